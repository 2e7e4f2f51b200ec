"""Campaign announcements: created from templates, moved with the campaign, kept once sent."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import Post, PostRevision
from app.jobs.posts import enqueue_due_posts
from app.jobs.registry import JobContext, SchedulerConfig, load_scheduler_config
from app.runtime import Runtime
from app.services.campaigns import (
    AnnouncementTemplate,
    CampaignAnnouncements,
    SyncedAnnouncement,
    parse_offset,
)
from tests.conftest import SHANGHAI
from tests.jobs.test_posts import add_chats, make_config

START = datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)
END = datetime(2026, 11, 25, 22, 0, tzinfo=SHANGHAI)
TEMPLATES = [
    AnnouncementTemplate(
        "preview", "start", timedelta(hours=-24), "【活动预告】{name} {starts_at} 开始"
    ),
    AnnouncementTemplate("soon", "start", timedelta(hours=-1), "{name} 还有 1 小时开始"),
    AnnouncementTemplate("start", "start", timedelta(0), "**{name}** 开始啦", format="markdown"),
    AnnouncementTemplate("closing", "end", timedelta(minutes=-30), "{name} {ends_at} 结束"),
]


def _sync(
    factory: sessionmaker[Session],
    clock: FixedClock,
    start: datetime = START,
    end: datetime = END,
    templates: list[AnnouncementTemplate] = TEMPLATES,
    chat_pks: tuple[int, ...] = (1,),
) -> dict[str, SyncedAnnouncement]:
    with factory.begin() as session:
        results = CampaignAnnouncements.sync(
            session,
            "flash-1",
            start,
            end,
            templates,
            chat_pks,
            now=clock.now(),
            tz=SHANGHAI,
            name="冬日秒杀",
        )
    return {r.key: r for r in results}


def _posts(factory: sessionmaker[Session]) -> dict[str, Post]:
    with factory() as session:
        rows = CampaignAnnouncements.announcements(session, "flash-1")
    return {a.template_key: p for a, p in rows}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("-24h", -86400), ("-1h", -3600), ("0", 0), ("-30m", -1800), ("+1d", 86400), ("15", 900)],
)
def test_offsets(text: str, seconds: int) -> None:
    assert parse_offset(text) == timedelta(seconds=seconds)


def test_bad_offset() -> None:
    with pytest.raises(ValueError, match="offset"):
        parse_offset("yesterday")


def test_sync_creates_approved_announcements_at_their_offsets(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 1)

    results = _sync(factory, clock)
    posts = _posts(factory)

    assert {k: r.outcome for k, r in results.items()} == dict.fromkeys(
        ("preview", "soon", "start", "closing"), "created"
    )
    assert results["preview"].due_at == datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
    assert results["closing"].due_at == datetime(2026, 11, 25, 21, 30, tzinfo=SHANGHAI)
    assert {p.status for p in posts.values()} == {"scheduled"}
    assert posts["preview"].source == "campaign:flash-1"
    assert posts["preview"].content["text"] == "【活动预告】冬日秒杀 11月25日 10:00 开始"
    assert posts["start"].content == {"type": "markdown", "text": "**冬日秒杀** 开始啦"}
    assert posts["soon"].next_due_at == datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)


def test_changing_the_times_moves_pending_announcements_only(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 1)
    _sync(factory, clock)
    clock.set(datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI))
    enqueue_due_posts(JobContext(runtime.deps, make_config()))  # the T-24h preview goes out

    results = _sync(factory, clock, start=START + timedelta(hours=2))
    posts = _posts(factory)

    assert results["preview"].outcome == "sent"
    assert posts["preview"].status == "done"
    assert results["soon"].outcome == "moved"
    assert posts["soon"].next_due_at == datetime(2026, 11, 25, 11, 0, tzinfo=SHANGHAI)
    assert results["closing"].outcome == "unchanged"
    assert posts["start"].content["text"] == "**冬日秒杀** 开始啦"
    with factory() as session:
        actions = session.scalars(
            select(PostRevision.action).where(PostRevision.post_id == posts["soon"].id)
        ).all()
    assert list(actions) == ["created", "moved"]


def test_dropped_templates_and_passed_times_are_cancelled(
    runtime: Runtime, clock: FixedClock
) -> None:
    factory = runtime.deps.session_factory
    add_chats(factory, 2)
    _sync(factory, clock)

    clock.set(datetime(2026, 11, 25, 9, 30, tzinfo=SHANGHAI))  # "soon" (09:00) is pending
    # Moving the start earlier makes "soon" fall in the past; "closing" is removed.
    results = _sync(
        factory,
        clock,
        start=START - timedelta(minutes=20),
        templates=TEMPLATES[:3],
        chat_pks=(1, 2),
    )
    posts = _posts(factory)

    assert results["soon"].outcome == "cancelled"
    assert posts["soon"].status == "cancelled"
    assert posts["closing"].status == "cancelled"
    assert results["start"].outcome == "moved"
    assert posts["start"].targets["chat_pks"] == [1, 2]


def test_late_declared_templates_are_skipped(runtime: Runtime, clock: FixedClock) -> None:
    clock.set(datetime(2026, 11, 25, 9, 30, tzinfo=SHANGHAI))

    results = _sync(runtime.deps.session_factory, clock)

    assert results["preview"].outcome == "skipped"
    assert results["preview"].post_id is None
    assert results["soon"].outcome == "skipped"
    assert results["start"].outcome == "created"


@pytest.mark.parametrize(
    ("start", "end", "templates", "message"),
    [
        (END, START, TEMPLATES, "end after it starts"),
        (START.replace(tzinfo=None), END, TEMPLATES, "timezone-aware"),
        (START, END, [TEMPLATES[0], TEMPLATES[0]], "unique"),
        (START, END, [AnnouncementTemplate("x", "start", timedelta(0), "{price} 元")], "braces"),
        (START, END, [AnnouncementTemplate("x", "start", timedelta(0), "  ")], "body"),
    ],
)
def test_bad_campaigns_are_refused(
    runtime: Runtime,
    clock: FixedClock,
    start: datetime,
    end: datetime,
    templates: list[AnnouncementTemplate],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        _sync(runtime.deps.session_factory, clock, start=start, end=end, templates=templates)


def test_default_templates_come_from_config() -> None:
    templates = load_scheduler_config().announcement_templates()

    assert [t.key for t in templates] == [
        "preview_24h",
        "reminder_1h",
        "start",
        "ending_1h",
        "end",
    ]
    assert templates[0].offset == timedelta(hours=-24)
    assert templates[-1].anchor == "end"
    assert SchedulerConfig().announcement_templates() == []
