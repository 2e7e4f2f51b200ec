"""积分 / 我的积分 / 等级: balance, level, the next level and the privileges list."""

from __future__ import annotations

from app.clock import FixedClock
from app.messages import ChatRef, Platform
from app.runtime import Runtime
from tests.factories import make_message
from tests.points_helpers import apply, routes, run_handler, seed_member

POINTS_ROUTES = routes("points", "levels")


def _say(runtime: Runtime, clock: FixedClock, text: str, **kw: object) -> list[str]:
    message = make_message(text, at=clock.now(), **kw)  # type: ignore[arg-type]
    return run_handler(runtime, POINTS_ROUTES, message)


def test_balance_level_and_the_gap_to_the_next(runtime: Runtime, clock: FixedClock) -> None:
    member_pk, _ = seed_member(runtime.deps.session_factory, clock.now())
    apply(runtime.deps.session_factory, clock, member_pk, 130, "seed")
    apply(runtime.deps.session_factory, clock, member_pk, -30, "spend", reason="redeem")

    replies = _say(runtime, clock, "我的积分")

    assert replies == ["小满 的积分：100\n等级：Lv2 含苞\n距离 Lv3 初绽 还差 370 积分"]


def test_balance_works_in_a_one_to_one_chat(runtime: Runtime, clock: FixedClock) -> None:
    private = ChatRef(Platform.BRIDGE, "u-001", is_group=False)

    replies = _say(runtime, clock, "积分", chat=private)

    assert replies == ["小满 的积分：0\n等级：Lv1 萌芽\n距离 Lv2 含苞 还差 100 积分"]


def test_top_level_says_so(runtime: Runtime, clock: FixedClock) -> None:
    member_pk, _ = seed_member(runtime.deps.session_factory, clock.now())
    apply(runtime.deps.session_factory, clock, member_pk, 6000, "seed")

    assert _say(runtime, clock, "积分")[0].endswith("已是最高等级，感谢一路相伴！")


def test_levels_lists_every_level_and_mine(runtime: Runtime, clock: FixedClock) -> None:
    [reply] = _say(runtime, clock, "等级")
    lines = reply.splitlines()

    assert lines[0] == "等级与特权："
    assert lines[1] == "Lv1 萌芽（0 积分起）"
    assert lines[5].startswith("Lv5 花语大使（5000 积分起）特权：全场花礼 9 折")
    assert lines[-1] == "你当前是 Lv1 萌芽（0 积分）。"
