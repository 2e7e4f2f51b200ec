"""Activity points: a few points per valid group message, with a cooldown and a daily cap.

Runs for every text message in a group (the last route of the pipeline), inside the inbox
worker's transaction, in two steps:
- `add` decides whether the message can earn at all (its group's rules, its length) and holds
  it back;
- `flush` writes all held messages of the batch together: when the batch ends, or earlier
  when anything else is about to use the ledger (PointsService.defer), so a 积分 later in the
  same batch sees them.

A flush first locks the batch's members' `points_daily` rows (their activity today: points,
count, time of the last award) in one statement, in member order. Cap and cooldown are decided
on those locked rows, message by message in batch order, so concurrent workers cannot exceed
them. Then the new daily totals, the accounts and the ledger entries are written with one
statement each (PointsService.credit_many), whatever the number of messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.clock import local_date
from app.db.upsert import lock_rows, overwrite_rows
from app.filters import strip_mentions
from app.services.points import Credit, LedgerResult, PointsService, ledger_key
from app.services.points_config import Level
from app.services.points_sql import DAILY

DAILY_KEY = ("member_id", "day", "kind")

ACTIVITY = "activity"


def visible_length(text: str) -> int:
    """Characters that count towards the minimum length: mentions and whitespace do not."""
    return len("".join(strip_mentions(text).split()))


@dataclass(slots=True)
class ActivityAward:
    """A message that may earn, held until its batch is written."""

    member_pk: int
    chat_pk: int
    amount: int
    daily_cap: int
    cooldown: timedelta
    key: str  # the ledger's idempotency key: a message earns once
    ref: str
    at: datetime
    day: date
    on_level_up: Callable[[Level], None] | None = None
    result: LedgerResult | None = None  # set by `flush` when the message earned


@dataclass(slots=True)
class _DailySlot:
    earned: int
    count: int
    last_at: datetime | None
    changed: bool = False

    def take(self, award: ActivityAward) -> bool:
        """Count the award against today's cap if the cooldown has passed."""
        if self.earned + award.amount > award.daily_cap:
            return False
        if self.last_at is not None and self.last_at > award.at - award.cooldown:
            return False
        self.earned += award.amount
        self.count += 1
        self.last_at = award.at
        self.changed = True
        return True


class ActivityPoints:
    """The batch's activity awards (built per transaction, like the other services)."""

    def __init__(self, points: PointsService) -> None:
        self.points = points
        self._held: list[ActivityAward] = []

    def add(
        self,
        *,
        member_pk: int,
        chat_pk: int,
        text: str,
        source_key: str,
        at: datetime,
        on_level_up: Callable[[Level], None] | None = None,
    ) -> ActivityAward | None:
        """Hold a message for the batch write; None when it cannot earn at all."""
        rules = self.points.rules_for(chat_pk)
        amount = rules.activity_points
        if not rules.activity_enabled or not 0 < amount <= rules.activity_daily_cap:
            return None
        if visible_length(text) < rules.activity_min_length:
            return None
        award = ActivityAward(
            member_pk=member_pk,
            chat_pk=chat_pk,
            amount=amount,
            daily_cap=rules.activity_daily_cap,
            cooldown=timedelta(seconds=rules.activity_cooldown_seconds),
            key=ledger_key(ACTIVITY, source_key),
            ref=source_key,
            at=at,
            day=local_date(at, self.points.tz),
            on_level_up=on_level_up,
        )
        self._held.append(award)
        self.points.defer(self.flush)
        return award

    def flush(self) -> None:
        """Write the held awards: daily slots, accounts, ledger; then announce level-ups."""
        held, self._held = self._held, []
        fresh = self._not_paid_before(held)
        if not fresh:
            return
        slots = self._lock_slots(fresh)
        earning = [award for award in fresh if slots[award.member_pk, award.day].take(award)]
        self._write_slots(slots)
        credits = [
            Credit(a.member_pk, a.amount, ACTIVITY, a.key, a.at, a.chat_pk, a.ref) for a in earning
        ]
        for award, result in zip(earning, self.points.credit_many(credits), strict=True):
            award.result = result
            if result.level_up is not None and award.on_level_up is not None:
                award.on_level_up(result.level_up)

    def _not_paid_before(self, held: list[ActivityAward]) -> list[ActivityAward]:
        """Drop messages that earned before (a reprocessed message): they use no slot."""
        seen = self.points.taken_keys({award.key for award in held})
        fresh: list[ActivityAward] = []
        for award in held:
            if award.key not in seen:
                seen.add(award.key)
                fresh.append(award)
        return fresh

    def _lock_slots(self, awards: list[ActivityAward]) -> dict[tuple[int, date], _DailySlot]:
        keys = sorted({(award.member_pk, award.day) for award in awards})
        empty = [_daily_row(member, day, _DailySlot(0, 0, None)) for member, day in keys]
        state = ("member_id", "day", "earned", "count", "last_at")
        rows = lock_rows(self.points.session, DAILY, empty, DAILY_KEY, state)
        return {
            (int(row.member_id), row.day): _DailySlot(int(row.earned), int(row.count), row.last_at)
            for row in rows
        }

    def _write_slots(self, slots: dict[tuple[int, date], _DailySlot]) -> None:
        changed = [
            _daily_row(member, day, slot)
            for (member, day), slot in sorted(slots.items())
            if slot.changed
        ]
        if changed:
            overwrite_rows(self.points.session, DAILY, changed, DAILY_KEY)


def _daily_row(member_pk: int, day: date, slot: _DailySlot) -> dict[str, object]:
    return {
        "member_id": member_pk,
        "day": day,
        "kind": ACTIVITY,
        "earned": slot.earned,
        "count": slot.count,
        "last_at": slot.last_at,
    }
