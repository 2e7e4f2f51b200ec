"""Escalation: which actions a violation gets, given the member's earlier violations.

Called by the moderation service once per violation, with the times of the member's earlier
violations of the same rule (or of any rule — the caller chooses what counts). Pure: no clock,
no storage. Violations older than the ladder's `expire_after_days` are forgotten (warnings
expire); each step counts the violations within its own `within_days`, this one included, and
the highest step reached wins: "1st → warn, 3 in 7 days → removal request".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.moderation.rule_types import ActionKind, Ladder, LadderStep


@dataclass(frozen=True, slots=True)
class Action:
    """What to do about one violation; `step` is the ladder step's `at` (None: none reached)."""

    kinds: tuple[ActionKind, ...]
    points: int
    count: int  # violations counted for the step that applied, this one included
    step: int | None

    @property
    def log_only(self) -> bool:
        return set(self.kinds) <= {"log"}


def decide_action(ladder: Ladder, prior_violations: Sequence[datetime], now: datetime) -> Action:
    """The actions for a violation at `now`; `prior_violations` are earlier ones (any order)."""
    expiry = now - timedelta(days=ladder.expire_after_days)
    live = [at for at in prior_violations if expiry < at <= now]
    best: tuple[LadderStep, int] | None = None
    for step in sorted(ladder.steps, key=lambda s: s.at):
        count = _count(step, live, now)
        if count >= step.at:
            best = (step, count)
    if best is None:
        return Action(kinds=("log",), points=0, count=len(live) + 1, step=None)
    step, count = best
    return Action(kinds=step.actions, points=step.points, count=count, step=step.at)


def _count(step: LadderStep, live: list[datetime], now: datetime) -> int:
    if step.within_days is None:
        return len(live) + 1
    since = now - timedelta(days=step.within_days)
    return sum(1 for at in live if at > since) + 1
