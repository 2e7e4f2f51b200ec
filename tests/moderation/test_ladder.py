"""Escalation ladders: thresholds inside windows, expiry of old violations, points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.moderation.ladder import decide_action
from app.moderation.rule_types import Ladder, LadderStep

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LADDER = Ladder(
    expire_after_days=30,
    steps=(
        LadderStep(at=1, actions=("warn",)),
        LadderStep(at=3, within_days=7, actions=("deduct_points", "request_removal"), points=20),
        LadderStep(at=5, actions=("blacklist",)),
    ),
)


def days_ago(*days: float) -> list[datetime]:
    return [NOW - timedelta(days=d) for d in days]


def test_first_violation_warns() -> None:
    action = decide_action(LADDER, [], NOW)
    assert (action.kinds, action.count, action.step, action.points) == (("warn",), 1, 1, 0)


def test_third_within_seven_days_requests_removal() -> None:
    action = decide_action(LADDER, days_ago(1, 6), NOW)
    assert action.kinds == ("deduct_points", "request_removal")
    assert (action.count, action.step, action.points) == (3, 3, 20)


def test_third_spread_over_more_than_seven_days_only_warns() -> None:
    action = decide_action(LADDER, days_ago(1, 8), NOW)
    assert (action.kinds, action.step) == (("warn",), 1)


def test_expired_violations_do_not_count() -> None:
    action = decide_action(LADDER, days_ago(31, 40, 45, 50), NOW)
    assert (action.kinds, action.count) == (("warn",), 1)


def test_fifth_within_expiry_blacklists() -> None:
    action = decide_action(LADDER, days_ago(2, 10, 15, 29), NOW)
    assert (action.kinds, action.count, action.step) == (("blacklist",), 5, 5)


def test_future_timestamps_are_ignored() -> None:
    action = decide_action(LADDER, [NOW + timedelta(days=1)] * 4, NOW)
    assert action.count == 1


def test_a_ladder_starting_later_logs_until_reached() -> None:
    ladder = Ladder(steps=(LadderStep(at=2, actions=("notify_admins",)),))
    first = decide_action(ladder, [], NOW)
    assert (first.kinds, first.step, first.log_only) == (("log",), None, True)
    assert decide_action(ladder, days_ago(1), NOW).kinds == ("notify_admins",)


def test_steps_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="share the same"):
        Ladder(steps=(LadderStep(at=1, actions=("warn",)), LadderStep(at=1, actions=("log",))))
