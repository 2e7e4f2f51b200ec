"""The activity observer is the last route, runs for answered messages, announces level-ups."""

from __future__ import annotations

from app.clock import FixedClock
from app.handlers import PIPELINE
from app.runtime import Runtime
from tests.factories import make_message
from tests.points_helpers import apply, entries, routes, run_handler, seed_member

POINTS_ROUTES = routes("leaderboard", "activity")


def test_activity_is_the_last_route() -> None:
    assert PIPELINE.routes[-1].name == "activity"


def test_a_chat_message_earns_activity_points(runtime: Runtime, clock: FixedClock) -> None:
    replies = run_handler(runtime, POINTS_ROUTES, make_message("今天的花真好看呀", at=clock.now()))

    assert replies == []
    assert [(e.reason, e.delta) for e in entries(runtime.deps.session_factory)] == [
        ("activity", 2)
    ]


def test_it_runs_even_when_a_command_answered(runtime: Runtime, clock: FixedClock) -> None:
    replies = run_handler(runtime, POINTS_ROUTES, make_message("排行榜 本月", at=clock.now()))

    assert len(replies) == 1
    assert replies[0].startswith("本月")
    assert [e.reason for e in entries(runtime.deps.session_factory)] == ["activity"]


def test_it_announces_a_level_up(runtime: Runtime, clock: FixedClock) -> None:
    member_pk, _ = seed_member(runtime.deps.session_factory, clock.now())
    apply(runtime.deps.session_factory, clock, member_pk, 99, "seed")

    replies = run_handler(runtime, POINTS_ROUTES, make_message("谢谢大家的推荐", at=clock.now()))

    assert replies == ["🎉 恭喜 小满 升级到 Lv2 含苞！特权：生日当月领取小花束优惠券"]
