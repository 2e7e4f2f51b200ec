"""签到 / 打卡 / 补签 through the real routes: replies, no second credit, level-up, midnight."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from app.clock import FixedClock
from app.db.models import Checkin
from app.messages import ChatRef, Platform
from app.runtime import Runtime
from tests.conftest import SHANGHAI
from tests.factories import make_message
from tests.points_helpers import apply, count, entries, routes, run_handler, seed_member

POINTS_ROUTES = routes("checkin", "makeup", "activity")


def _say(runtime: Runtime, clock: FixedClock, text: str, **kw: object) -> list[str]:
    message = make_message(text, at=clock.now(), **kw)  # type: ignore[arg-type]
    return run_handler(runtime, POINTS_ROUTES, message)


def test_checkin_replies_with_points_balance_streak_and_rank(
    runtime: Runtime, clock: FixedClock
) -> None:
    replies = _say(runtime, clock, "签到")

    assert replies == ["小满 签到成功，今天第 1 位签到 🌸\n+10 积分，已连续签到 1 天\n当前积分 10"]


def test_the_bot_mention_and_daka_work_too(runtime: Runtime, clock: FixedClock) -> None:
    via_bot = _say(runtime, clock, "@群助手 签到", mentions_bot=True)
    clock.advance(days=1)
    daka = _say(runtime, clock, "打卡", user="u-002")

    assert "签到成功" in via_bot[0]
    assert "签到成功" in daka[0]


def test_a_second_checkin_is_friendly_and_pays_nothing(
    runtime: Runtime, clock: FixedClock
) -> None:
    _say(runtime, clock, "签到")
    clock.advance(minutes=30)

    replies = _say(runtime, clock, "签到")

    assert replies == ["小满 今天已签到啦（第 1 位），已连续签到 1 天，当前积分 10。明天再来哦～"]
    assert len(entries(runtime.deps.session_factory)) == 1


def test_seventh_day_shows_the_bonus(runtime: Runtime, clock: FixedClock) -> None:
    replies: list[str] = []
    for _ in range(7):
        replies = _say(runtime, clock, "签到")
        clock.advance(days=1)

    assert "+30 积分（含连续签到 7 天奖励 +20），已连续签到 7 天" in replies[0]


def test_crossing_a_threshold_announces_the_level_up(runtime: Runtime, clock: FixedClock) -> None:
    member_pk, _ = seed_member(runtime.deps.session_factory, clock.now())
    apply(runtime.deps.session_factory, clock, member_pk, 95, "seed")

    replies = _say(runtime, clock, "签到")

    assert len(replies) == 2
    assert replies[1] == "🎉 恭喜 小满 升级到 Lv2 含苞！特权：生日当月领取小花束优惠券"


def test_a_checkin_sent_before_midnight_counts_for_that_day(
    runtime: Runtime, clock: FixedClock
) -> None:
    sent = datetime(2026, 11, 23, 23, 59, 59, tzinfo=SHANGHAI)
    clock.set(sent + timedelta(seconds=6))  # processed just after midnight
    message = make_message("签到", at=sent)

    run_handler(runtime, POINTS_ROUTES, message)
    next_morning = _say(runtime, clock, "签到")

    with runtime.deps.session_factory() as session:
        days = sorted(c.day.isoformat() for c in session.query(Checkin))
    assert days == ["2026-11-23", "2026-11-24"]
    assert "已连续签到 2 天" in next_morning[0]


def test_checkin_is_a_group_command(runtime: Runtime, clock: FixedClock) -> None:
    one_to_one = ChatRef(Platform.BRIDGE, "u-001", is_group=False)

    replies = _say(runtime, clock, "签到", chat=one_to_one)

    assert not any("签到成功" in r for r in replies)
    assert count(runtime.deps.session_factory, Checkin) == 0


def test_make_up_replies(runtime: Runtime, clock: FixedClock) -> None:
    poor = _say(runtime, clock, "补签")
    member_pk, _ = seed_member(runtime.deps.session_factory, clock.now())
    apply(runtime.deps.session_factory, clock, member_pk, 50, "seed")
    made = _say(runtime, clock, "补签")
    again = _say(runtime, clock, "补签卡")

    assert poor == ["小满 积分不足：补签需要 30 积分，当前积分 0。"]
    assert made == [
        "小满 补签成功：已补上 11月22日 的签到，消耗 30 积分，已连续签到 1 天，剩余积分 20"
    ]
    assert again == ["小满 昨天已经签到过了，不需要补签～"]


def test_a_missing_sender_name_is_you(runtime: Runtime, clock: FixedClock) -> None:
    message = replace(make_message("签到", at=clock.now()), sender_name=None)

    replies = run_handler(runtime, POINTS_ROUTES, message)

    assert replies[0].startswith("你 签到成功")
