"""The moderation route in the real pipeline: evasions caught, honest members left alone,
non-text kinds, exempt roles, activity windows on an injected clock, retried messages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.clock import FixedClock
from app.db.models import ModerationActivity, OutboxRow, PointsEntry
from app.messages import ChatRef, Kind, Platform, Role
from app.runtime import Runtime
from tests.conftest import BRIDGE_SECRET
from tests.factories import bridge_event, signed
from tests.moderation.db_helpers import SHOP, cases, put_scope, say, shop_defaults

LATER_ROUTES = {"checkin", "faq", "activity"}


@pytest.fixture(autouse=True)
def _shop(runtime: Runtime) -> None:
    put_scope(runtime, "defaults", shop_defaults(allowed_mini_programs=["花屿小店"]))


def test_a_violation_stops_the_pipeline_and_warns_with_a_mention(
    runtime: Runtime, clock: FixedClock
) -> None:
    delivered = say(runtime, clock, "大家好加微信领福利")

    assert delivered.routes == ("moderation",)
    (reply,) = delivered.replies
    assert reply.mention_ids == ["u-001"]
    assert reply.text.startswith("本群禁止发广告、引流和色情信息。")
    (case,) = cases(runtime)
    assert (case.rule, case.category, case.matched, case.start, case.end) == (
        "banned_words.ad",
        "ad",
        "加微信",
        3,
        6,
    )
    assert case.text == "大家好加微信领福利"
    assert case.status == "open"
    with runtime.deps.session_factory() as session:
        assert session.scalars(select(PointsEntry)).all() == []  # no activity points


@pytest.mark.parametrize(
    ("text", "evasion"),
    [
        ("想要资料的 加 微 信 我发你", "separators"),
        ("想要资料的加\u200b微\u200d信我发你", "zero-width characters"),
        ("ＶＸ：ｇａｒｄｅｎ２０２４ 每天上新", "full-width letters"),
        ("加威信领取优惠券", "homophone 威信"),
        ("加薇信领取优惠券", "homophone 薇信"),
        ("有意的加V信", "V信"),
        ("多肉批发，电话壹叁捌-壹贰叁肆-伍陆柒捌", "大写 digits"),
        ("加🌷微🌷信送花瓶", "emoji between characters"),
        ("代購日本花器，私聊", "traditional characters"),
        (f"会员福利 {SHOP}.prize-center.xyz 领取", "a look-alike of the shop's domain"),
        ("便宜的去 cheapflowers点com 看看", "点com"),
    ],
)
def test_evasions_are_caught(runtime: Runtime, clock: FixedClock, text: str, evasion: str) -> None:
    delivered = say(runtime, clock, text)

    assert delivered.routes == ("moderation",), evasion
    assert len(cases(runtime)) == 1, evasion


@pytest.mark.parametrize(
    "text",
    [
        "买了一卷垃圾袋装剪下的枝叶",
        "门口屏幕滚动播放新品视频",
        "今天加班，晚点去店里取花",
        f"活动页面 https://{SHOP}/event/spring 大家看看",
        "客服电话 400-123-5217 是官方的",
    ],
)
def test_honest_look_alikes_go_on_through_the_pipeline(
    runtime: Runtime, clock: FixedClock, text: str
) -> None:
    delivered = say(runtime, clock, text)

    assert "activity" in delivered.routes
    assert cases(runtime) == []


@pytest.mark.parametrize(
    ("kind", "text", "title", "rule"),
    [
        (Kind.MINI_PROGRAM, "", "某某拼团", "message_kinds"),
        (Kind.CARD, "", "推荐一个好友", "message_kinds"),
        (Kind.IMAGE, "[二维码]", None, "ad.qr_code"),
        (Kind.LINK, "", "低价花材", "links"),
    ],
)
def test_non_text_kinds_are_judged(
    runtime: Runtime, clock: FixedClock, kind: Kind, text: str, title: str | None, rule: str
) -> None:
    url = "https://cheap-flowers.example.net/x" if kind is Kind.LINK else None

    delivered = say(runtime, clock, text, kind=kind, title=title, url=url)

    assert delivered.routes == ("moderation",)
    assert [case.rule for case in cases(runtime)] == [rule]
    assert cases(runtime)[0].kind == kind.value


def test_the_shops_own_mini_program_and_link_are_allowed(
    runtime: Runtime, clock: FixedClock
) -> None:
    say(runtime, clock, "", kind=Kind.MINI_PROGRAM, title="花屿小店")
    say(runtime, clock, "", kind=Kind.LINK, url=f"https://{SHOP}/item/3", title="新品")

    assert cases(runtime) == []


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.STAFF])
def test_exempt_roles_are_never_moderated(runtime: Runtime, clock: FixedClock, role: Role) -> None:
    delivered = say(runtime, clock, "加微信 rose_garden8 领福利", role=role, user="u-staff")

    assert "activity" in delivered.routes
    assert cases(runtime) == []


def test_a_whitelisted_member_is_not_moderated(runtime: Runtime, clock: FixedClock) -> None:
    put_scope(runtime, "group:g-001", {"whitelisted_members": ["u-partner"]})

    say(runtime, clock, "加微信 rose_garden8 领福利", user="u-partner")
    say(runtime, clock, "加微信 rose_garden8 领福利", user="u-other")

    assert [case.member_id for case in cases(runtime)] == [cases(runtime)[0].member_id]
    assert len(cases(runtime)) == 1


def test_private_chats_are_not_moderated(runtime: Runtime, clock: FixedClock) -> None:
    private = ChatRef(Platform.BRIDGE, "u-001", is_group=False)

    say(runtime, clock, "加微信领福利", chat=private)

    assert cases(runtime) == []


def test_flood_counts_messages_inside_the_window_only(runtime: Runtime, clock: FixedClock) -> None:
    for _ in range(6):  # 6 messages over 12.5 s: never 6 within 10 s
        say(runtime, clock, "好看")
        clock.advance(seconds=2.5)
    assert cases(runtime) == []

    clock.advance(seconds=60)
    for _ in range(5):
        say(runtime, clock, "真好看")
        clock.advance(seconds=1)
    delivered = say(runtime, clock, "好美")  # 6 messages within 10 s

    assert delivered.routes == ("moderation",)
    assert [case.rule for case in cases(runtime)] == ["flood"]


def test_a_spam_wave_is_the_same_text_from_many_members(
    runtime: Runtime, clock: FixedClock
) -> None:
    wave = "亲们看这个超值的活动，点进去就有惊喜哦"
    say(runtime, clock, wave, user="u-a")
    clock.advance(minutes=11)  # outside the 10-minute window for the next two
    say(runtime, clock, wave, user="u-b")
    clock.advance(minutes=2)
    say(runtime, clock, wave + "！", user="u-c")  # nearly the same text
    assert cases(runtime) == []

    clock.advance(minutes=2)
    delivered = say(runtime, clock, wave, user="u-d")

    assert delivered.routes == ("moderation",)
    assert [case.rule for case in cases(runtime)] == ["spam_wave"]


def test_the_same_text_repeated_by_one_member(runtime: Runtime, clock: FixedClock) -> None:
    for _ in range(2):
        say(runtime, clock, "有人在吗有人在吗")
        clock.advance(seconds=30)
    say(runtime, clock, "有人在吗有人在吗")

    assert [case.rule for case in cases(runtime)] == ["repeat"]


def test_links_from_new_members(runtime: Runtime, clock: FixedClock, client: TestClient) -> None:
    put_scope(runtime, "defaults", {"rules": {"links": {"enabled": False}}})
    join = bridge_event(
        "", at=clock.now(), type="member_join", members=[{"id": "u-new", "name": "新人"}]
    )
    body, headers = signed(join, BRIDGE_SECRET, timestamp=int(clock.now().timestamp()))
    assert client.post("/callbacks/bridge", content=body, headers=headers).status_code == 200
    runtime.worker.drain()
    clock.advance(hours=2)

    say(runtime, clock, "看看 https://www.example.org/a", user="u-old")
    say(runtime, clock, "看看 https://www.example.org/a", user="u-new")
    clock.advance(hours=23)
    say(runtime, clock, "再看 https://www.example.org/b", user="u-new")

    assert [case.rule for case in cases(runtime)] == ["new_member_links"]


def test_a_retried_bridge_event_opens_one_case_and_warns_once(
    runtime: Runtime, clock: FixedClock, client: TestClient
) -> None:
    event = bridge_event("大家好加微信领福利", at=clock.now(), id="bridge-ad-1")
    for _ in range(2):
        body, headers = signed(event, BRIDGE_SECRET, timestamp=int(clock.now().timestamp()))
        assert client.post("/callbacks/bridge", content=body, headers=headers).status_code == 200
        runtime.worker.drain()

    assert len(cases(runtime)) == 1
    with runtime.deps.session_factory() as session:
        replies = session.scalars(
            select(OutboxRow).where(OutboxRow.idempotency_key.startswith("reply:"))
        ).all()
        activity = session.scalars(select(ModerationActivity)).all()
    assert len(replies) == 1
    assert len(activity) == 1
