"""Posts: the review flow and its history, content checks, per-channel rendering and routes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import Chat, Post, PostRevision
from app.services.posts import (
    ChatDirectory,
    DeliveryNotes,
    PostContent,
    PostDraft,
    PostNotFound,
    PostsService,
    PostStateError,
    RobotKeys,
    Targets,
    delivery_key,
    drafts_for,
    parse_content,
    preview,
    render,
    route_for,
)
from app.services.recurrence import make_schedule
from tests.conftest import SHANGHAI

GRACE = timedelta(minutes=10)
NOTES = DeliveryNotes()


def _chat(
    session: Session,
    external_id: str,
    *,
    platform: str = "bridge",
    tags: list[str] | None = None,
    robot: str | None = None,
    is_group: bool = True,
) -> Chat:
    chat = Chat(
        platform=platform,
        external_id=external_id,
        name=f"群 {external_id}",
        is_group=is_group,
        tags=tags or [],
        robot=robot,
        created_at=datetime(2026, 1, 1, tzinfo=SHANGHAI),
    )
    session.add(chat)
    session.flush()
    return chat


def _service(session: Session, clock: FixedClock) -> PostsService:
    return PostsService(session, tz=SHANGHAI, now=clock.now(), grace=GRACE)


def _draft(clock: FixedClock, chat_pks: tuple[int, ...], **schedule: object) -> PostDraft:
    when = schedule or {"cron": "0 9 * * 1"}
    return PostDraft(
        PostContent("text", text="每周花卉知识：多肉怎么浇水？"),
        Targets(chat_pks),
        make_schedule(tz=SHANGHAI, now=clock.now(), **when),  # type: ignore[arg-type]
        title="每周花卉知识",
    )


def _actions(session: Session, post_id: int) -> list[str]:
    return list(
        session.scalars(
            select(PostRevision.action)
            .where(PostRevision.post_id == post_id)
            .order_by(PostRevision.id)
        )
    )


# -- review flow ----------------------------------------------------------------------------
def test_draft_submitted_approved_is_scheduled_with_its_history(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with session_factory.begin() as session:
        chat = _chat(session, "g-001")
        posts = _service(session, clock)
        post = posts.create(_draft(clock, (chat.id,)), actor="小满")
        assert post.status == "draft"
        assert posts.submit(post.id, actor="小满").status == "submitted"
        approved = posts.approve(post.id, actor="店长")

        assert approved.status == "scheduled"
        assert approved.approved_by == "店长"
        assert approved.next_due_at == datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI)
        assert _actions(session, post.id) == ["created", "submitted", "approved"]


def test_approve_works_from_draft_but_not_twice(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with session_factory.begin() as session:
        posts = _service(session, clock)
        post = posts.create(_draft(clock, ()), actor=None)
        posts.approve(post.id, actor=None)

        with pytest.raises(PostStateError, match="cannot approve a post that is scheduled"):
            posts.approve(post.id, actor=None)
        with pytest.raises(PostStateError, match="cannot submit"):
            posts.submit(post.id, actor=None)
        with pytest.raises(PostNotFound):
            posts.approve(9999, actor=None)


def test_editing_an_approved_post_sends_it_back_to_review(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with session_factory.begin() as session:
        posts = _service(session, clock)
        post = posts.create(_draft(clock, ()), actor="a")
        posts.approve(post.id, actor="b")
        changed = PostDraft(
            PostContent("markdown", text="**每月促销**：满 199 减 30"),
            Targets(tags=("会员",)),
            make_schedule(tz=SHANGHAI, now=clock.now(), cron="0 10 1 * *"),
            title="每月促销",
        )

        edited = posts.edit(post.id, changed, actor="a")
        history = posts.history(post.id)

        assert edited.status == "draft"
        assert edited.next_due_at is None
        assert edited.version == 2
        assert [r.action for r in history] == ["created", "approved", "edited"]
        assert history[0].snapshot["content"]["text"] == "每周花卉知识：多肉怎么浇水？"
        assert history[-1].snapshot["content"] == {
            "type": "markdown",
            "text": "**每月促销**：满 199 减 30",
        }
        assert history[-1].version == 2


def test_pause_then_resume_skips_fire_times_that_passed(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with session_factory.begin() as session:
        post = _service(session, clock).create(_draft(clock, (), cron="0 9 * * *"), actor=None)
        _service(session, clock).approve(post.id, actor=None)
        _service(session, clock).pause(post.id, actor=None)
        assert post.next_due_at is None
        clock.advance(days=3)

        resumed = _service(session, clock).resume(post.id, actor=None)

        assert resumed.status == "scheduled"
        assert resumed.next_due_at == datetime(2026, 11, 27, 9, 0, tzinfo=SHANGHAI)
        with pytest.raises(PostStateError):
            _service(session, clock).resume(post.id, actor=None)


def test_one_off_in_the_past_is_refused_and_cannot_be_approved_late(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with session_factory.begin() as session:
        posts = _service(session, clock)
        with pytest.raises(ValueError, match="in the past"):
            posts.create(_draft(clock, (), at=clock.now() - timedelta(hours=1)), actor=None)
        post = posts.create(_draft(clock, (), at=clock.now() + timedelta(minutes=5)), actor=None)
        clock.advance(hours=1)

        with pytest.raises(PostStateError, match="time has passed"):
            _service(session, clock).approve(post.id, actor=None)
        assert session.get(Post, post.id).status == "draft"  # type: ignore[union-attr]


def test_one_off_a_little_late_is_still_approved_within_grace(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    with session_factory.begin() as session:
        at = clock.now() + timedelta(minutes=1)
        post = _service(session, clock).create(_draft(clock, (), at=at), actor=None)
        clock.advance(minutes=5)

        approved = _service(session, clock).approve(post.id, actor=None)

        assert approved.next_due_at == at


def test_cancel_is_final(session_factory: sessionmaker[Session], clock: FixedClock) -> None:
    with session_factory.begin() as session:
        posts = _service(session, clock)
        post = posts.create(_draft(clock, ()), actor=None)

        assert posts.cancel(post.id, actor="a", note="活动取消") == 0
        assert post.status == "cancelled"
        with pytest.raises(PostStateError):
            posts.edit(post.id, _draft(clock, ()), actor=None)
        assert posts.history(post.id)[-1].note == "活动取消"


# -- content and channels ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "video"}, "content.type"),
        ({"type": "text", "text": "  "}, "content.text"),
        ({"type": "image", "url": "ftp://x"}, "content.url"),
        ({"type": "link", "url": "https://x.cn"}, "content.title"),
        ({"type": "news", "articles": []}, "1–8 articles"),
        ({"type": "news", "articles": [{"title": "a", "url": "https://a.cn"}] * 9}, "1–8"),
        ({"type": "text", "text": "字" * 8001}, "longer than"),
    ],
)
def test_bad_content_is_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_content(data)


def test_rendering_per_channel() -> None:
    image = parse_content({"type": "image", "url": "https://img.cn/rose.jpg", "text": "玫瑰"})
    link = parse_content(
        {
            "type": "link",
            "url": "https://shop.cn/sale",
            "title": "双十二预告",
            "description": "全场 8 折",
        }
    )

    robot_image = render(image, "wecom_robot")
    bridge_link = render(link, "bridge")

    assert robot_image.kind == "news"
    assert robot_image.articles[0].picurl == "https://img.cn/rose.jpg"
    assert render(image, "bridge").text == "玫瑰\nhttps://img.cn/rose.jpg"
    assert bridge_link == render(link, "console")
    assert bridge_link.text == "双十二预告\n全场 8 折\nhttps://shop.cn/sale"
    assert render(link, "wecom_robot").articles[0].description == "全场 8 折"


def test_preview_shows_bytes_against_each_channel_limit() -> None:
    content = parse_content({"type": "text", "text": "花" * 1000})  # 3000 UTF-8 bytes

    by_channel = {p.channel: p for p in preview(content)}

    robot = by_channel["wecom_robot"].messages[0]
    assert (robot.bytes, robot.limit, robot.parts) == (3000, 2048, 2)
    assert "sent as 2 messages" in by_channel["wecom_robot"].warnings[0]
    bridge = by_channel["bridge"].messages[0]
    assert (bridge.limit, bridge.parts, by_channel["bridge"].warnings) == (None, 1, ())
    markdown = preview(parse_content({"type": "markdown", "text": "花" * 1000}), ["wecom_robot"])
    assert markdown[0].messages[0].parts == 1  # markdown allows 4096 bytes


def test_routes_per_chat(session_factory: sessionmaker[Session]) -> None:
    robots = RobotKeys(
        {"ops": "ROBOT_OPS_KEY", "nokey": "ROBOT_MISSING"}, {"ROBOT_OPS_KEY": "k-1"}
    )
    with session_factory.begin() as session:
        routes = {
            name: route_for(chat, robots, NOTES)
            for name, chat in {
                "bridge": _chat(session, "g-1"),
                "robot": _chat(session, "g-2", robot="ops"),
                "no_key": _chat(session, "g-3", robot="nokey"),
                "unknown_robot": _chat(session, "g-4", robot="ghost"),
                "customer": _chat(session, "wr-1", platform="wecom_app"),
                "aibot": _chat(session, "wb-1", platform="wecom_bot"),
            }.items()
        }

    assert routes["bridge"].channel == "bridge"
    assert routes["bridge"].status == "queued"
    assert routes["robot"].robot == ("ops", "k-1")
    assert routes["no_key"].status == "dead"
    assert "ROBOT_MISSING" in (routes["no_key"].note or "")
    assert routes["unknown_robot"].status == "dead"
    assert routes["customer"].status == "awaiting_confirmation"
    assert routes["customer"].note == NOTES.awaiting_confirmation
    assert routes["aibot"].status == "dead"


def test_robot_drafts_are_split_keyed_and_rate_limited(
    session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    robots = RobotKeys({"ops": "K"}, {"K": "secret-key"})
    with session_factory.begin() as session:
        chat = _chat(session, "g-9", robot="ops")
        route = route_for(chat, robots, NOTES)
        key = delivery_key(7, clock.now(), chat.id)
        long_text = drafts_for(
            PostContent("text", text="花" * 1000), chat, route, key=key, now=clock.now()
        )
        news = drafts_for(
            parse_content({"type": "image", "url": "https://img.cn/a.png"}),
            chat,
            route,
            key=key,
            now=clock.now(),
        )

    assert key == f"post:7:20261123T013000Z:{chat.id}"
    assert [d.key for d in long_text] == [f"{key}:p0", f"{key}:p1"]
    assert {d.rate_bucket for d in long_text} == {"robot:ops"}
    assert {d.extras["robot_key"] for d in long_text} == {"secret-key"}
    assert news[0].kind == "news"
    assert json.loads(news[0].extras["articles"])[0]["picurl"] == "https://img.cn/a.png"


def test_tags_resolve_to_groups_once(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        a = _chat(session, "g-a", tags=["会员", "北京"])
        b = _chat(session, "g-b", tags=["会员"])
        _chat(session, "g-c", tags=["员工"])
        _chat(session, "u-1", tags=["会员"], is_group=False)

        resolved = ChatDirectory(session).resolve(Targets((a.id,), ("会员", "北京")))

    assert [c.external_id for c in resolved] == ["g-a", "g-b"]
    assert b.id in {c.id for c in resolved}
