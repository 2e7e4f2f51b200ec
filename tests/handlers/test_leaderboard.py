"""排行榜 / 周榜 / 月榜 / 总榜 replies; a question that starts with 排行榜 is left alone."""

from __future__ import annotations

from app.clock import FixedClock
from app.runtime import Runtime
from tests.factories import make_message
from tests.points_helpers import apply, routes, run_handler, seed_member

POINTS_ROUTES = routes("leaderboard")


def _say(runtime: Runtime, clock: FixedClock, text: str) -> list[str]:
    return run_handler(runtime, POINTS_ROUTES, make_message(text, at=clock.now()))


def test_week_board_with_my_place(runtime: Runtime, clock: FixedClock) -> None:
    factory = runtime.deps.session_factory
    me, _ = seed_member(factory, clock.now(), user="u-001", name="小满")
    other, _ = seed_member(factory, clock.now(), user="u-002", name="阿青")
    apply(factory, clock, other, 40, "k1")
    apply(factory, clock, me, 25, "k2")

    assert _say(runtime, clock, "排行榜") == [
        "本周积分排行榜\n1. 阿青  40\n2. 小满  25\n小满 排第 2 名，25 积分"
    ]


def test_month_and_all_time_words(runtime: Runtime, clock: FixedClock) -> None:
    factory = runtime.deps.session_factory
    other, _ = seed_member(factory, clock.now(), user="u-002", name="阿青")
    apply(factory, clock, other, 40, "k1")

    month = _say(runtime, clock, "月榜")
    total = _say(runtime, clock, "排行榜 总")

    assert month[0].startswith("本月积分排行榜\n1. 阿青  40")
    assert total[0].startswith("总积分排行榜")
    assert total[0].endswith("小满 总还没有积分，签到、发言都能得分哦～")


def test_an_empty_board(runtime: Runtime, clock: FixedClock) -> None:
    assert _say(runtime, clock, "周榜") == ["本周还没有人获得积分，快来签到吧！"]


def test_a_question_is_not_a_board_request(runtime: Runtime, clock: FixedClock) -> None:
    assert _say(runtime, clock, "排行榜怎么算的") == []
