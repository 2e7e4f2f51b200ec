"""The points ledger: atomic, idempotent credits and debits that never overdraw.

Runs inside the caller's transaction (the inbox worker's for a handler, the request's for the
admin API, a job's own). `PointsService.apply` appends one `points_ledger` row and moves the
cached `points_accounts` balance in that same transaction — or changes nothing at all:
- the idempotency key is unique, so a retried webhook, a double tap or a second worker finds
  the key taken and gets `duplicate` (no second credit);
- the balance moves with `UPDATE … SET balance = balance + d WHERE balance + d >= 0`, an atomic
  conditional update, so concurrent debits can never overdraw (`insufficient` instead).
Entries are written while the account row is locked, so entry ids follow the balance order and
`balance_after` is a checkable running total (app/services/points_audit.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db.models import Chat, PointsAccount, PointsEntry
from app.db.upsert import insert_ignore
from app.services.levels import LevelStatus, level_status, level_up
from app.services.points_config import Level, PointsConfig, Rules

REASON_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
# Positive entries that give back what was spent do not count as "earned" (levels, boards).
NON_EARNING_REASONS = frozenset({"refund"})
MAX_DELTA = 10_000_000
MAX_KEY_LENGTH = 191

LedgerStatus = Literal["applied", "duplicate", "insufficient"]


class LedgerError(ValueError):
    """A call the ledger refuses outright (zero delta, bad reason code, bad key)."""


@dataclass(frozen=True, slots=True)
class LedgerResult:
    """What `apply` did. `delta` is the entry's delta (0 when nothing could be applied)."""

    status: LedgerStatus
    delta: int
    balance: int
    earned: int
    entry_id: int | None = None
    level_up: Level | None = None

    @property
    def applied(self) -> bool:
        """True when this call wrote the entry."""
        return self.status == "applied"

    @property
    def ok(self) -> bool:
        """True when the entry exists now (written by this call or by an earlier one)."""
        return self.status != "insufficient"


@dataclass(frozen=True, slots=True)
class Account:
    member_pk: int
    balance: int
    earned: int


def is_earning(reason: str, delta: int) -> bool:
    return delta > 0 and reason not in NON_EARNING_REASONS


def check_entry(delta: int, reason: str, key: str) -> None:
    """Refuse entries the ledger never accepts; raises LedgerError with the reason."""
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise LedgerError("delta must be an integer")
    if delta == 0:
        raise LedgerError("delta must not be zero")
    if abs(delta) > MAX_DELTA:
        raise LedgerError(f"delta must be between -{MAX_DELTA} and {MAX_DELTA}")
    if not REASON_PATTERN.match(reason):
        raise LedgerError(f"reason code {reason!r} must match {REASON_PATTERN.pattern}")
    if not key or len(key) > MAX_KEY_LENGTH:
        raise LedgerError(f"idempotency key must be 1..{MAX_KEY_LENGTH} characters")


class PointsService:
    """The ledger API other features call inside their own transaction."""

    def __init__(self, session: Session, config: PointsConfig, clock: Clock, tz: ZoneInfo):
        self.session = session
        self.config = config
        self.clock = clock
        self.tz = tz

    def apply(
        self,
        member_pk: int,
        delta: int,
        reason: str,
        key: str,
        *,
        chat_pk: int | None = None,
        ref: str | None = None,
        operator: str | None = None,
        note: str | None = None,
        at: datetime | None = None,
        clamp: bool = False,
    ) -> LedgerResult:
        """Credit (delta > 0) or debit (delta < 0) a member once per `key`.

        Never lets the balance go negative: a debit larger than the balance returns
        `insufficient` and writes nothing, or with `clamp=True` takes what is there.
        """
        check_entry(delta, reason, key)
        at = at or self.clock.now()
        existing = self._duplicate(key)
        if existing is not None:
            return existing
        self._ensure_account(member_pk, at)
        if clamp and delta < 0:
            delta = -min(-delta, self._locked_balance(member_pk))
            if delta == 0:
                return self._insufficient(member_pk)
        earned_delta = delta if is_earning(reason, delta) else 0
        moved = self._move(member_pk, delta, earned_delta, at)
        if moved is None:
            return self._insufficient(member_pk)
        balance, earned = moved
        entry = {
            "member_id": member_pk,
            "chat_id": chat_pk,
            "delta": delta,
            "balance_after": balance,
            "reason": reason,
            "ref": ref[:128] if ref else None,
            "operator": operator[:64] if operator else None,
            "note": note[:255] if note else None,
            "idempotency_key": key,
            "created_at": at,
        }
        inserted = insert_ignore(
            self.session, PointsEntry, [entry], ["idempotency_key"], PointsEntry.id
        )
        if not inserted:  # another transaction committed this key while we waited
            self._move(member_pk, -delta, -earned_delta, at)
            duplicate = self._duplicate(key)
            assert duplicate is not None
            return duplicate
        up = self._level_up(balance, earned, delta, earned_delta)
        return LedgerResult("applied", delta, balance, earned, inserted.pop(), up)

    def _move(
        self, member_pk: int, delta: int, earned_delta: int, at: datetime
    ) -> tuple[int, int] | None:
        row = self.session.execute(
            update(PointsAccount)
            .where(PointsAccount.member_id == member_pk, PointsAccount.balance + delta >= 0)
            .values(
                balance=PointsAccount.balance + delta,
                earned=PointsAccount.earned + earned_delta,
                updated_at=at,
            )
            .returning(PointsAccount.balance, PointsAccount.earned)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        return None if row is None else (int(row[0]), int(row[1]))

    def _ensure_account(self, member_pk: int, at: datetime) -> None:
        row = {"member_id": member_pk, "balance": 0, "earned": 0, "updated_at": at}
        insert_ignore(self.session, PointsAccount, [row], ["member_id"], PointsAccount.member_id)

    def _locked_balance(self, member_pk: int) -> int:
        balance = self.session.scalar(
            select(PointsAccount.balance)
            .where(PointsAccount.member_id == member_pk)
            .with_for_update()
        )
        return int(balance or 0)

    def _duplicate(self, key: str) -> LedgerResult | None:
        found = self.session.execute(
            select(PointsEntry.id, PointsEntry.member_id, PointsEntry.delta).where(
                PointsEntry.idempotency_key == key
            )
        ).one_or_none()
        if found is None:
            return None
        account = self.account(int(found.member_id))
        return LedgerResult(
            "duplicate", int(found.delta), account.balance, account.earned, int(found.id)
        )

    def _insufficient(self, member_pk: int) -> LedgerResult:
        account = self.account(member_pk)
        return LedgerResult("insufficient", 0, account.balance, account.earned)

    def _level_up(self, balance: int, earned: int, delta: int, earned_delta: int) -> Level | None:
        if self.config.level_basis == "balance":
            return level_up(self.config.levels, balance - delta, balance)
        return level_up(self.config.levels, earned - earned_delta, earned)

    # -- reads ----------------------------------------------------------------------------
    def account(self, member_pk: int) -> Account:
        row = self.session.execute(
            select(PointsAccount.balance, PointsAccount.earned).where(
                PointsAccount.member_id == member_pk
            )
        ).one_or_none()
        if row is None:
            return Account(member_pk, 0, 0)
        return Account(member_pk, int(row.balance), int(row.earned))

    def score(self, account: Account) -> int:
        """The number levels are measured by (config `level_basis`)."""
        return account.balance if self.config.level_basis == "balance" else account.earned

    def level_status(self, member_pk: int) -> LevelStatus:
        return level_status(self.config.levels, self.score(self.account(member_pk)))

    def entry_exists(self, key: str) -> bool:
        found = self.session.scalar(
            select(PointsEntry.id).where(PointsEntry.idempotency_key == key)
        )
        return found is not None

    def rules_for(self, chat_pk: int | None) -> Rules:
        """The earning rules of a group (defaults < profile < the group's own overrides)."""
        if chat_pk is None:
            return self.config.rules
        chat = self.session.execute(
            select(Chat.platform, Chat.external_id, Chat.profile).where(Chat.id == chat_pk)
        ).one_or_none()
        if chat is None:
            return self.config.rules
        return self.config.rules_for(
            profile=chat.profile, group_key=f"{chat.platform}:{chat.external_id}"
        )

    # -- conveniences for other features --------------------------------------------------
    def deduct_for_violation(
        self, member_pk: int, points: int, case_ref: str, *, chat_pk: int | None = None
    ) -> LedgerResult:
        """Moderation penalty: takes up to `points` (never below zero), once per case."""
        return self.apply(
            member_pk,
            -points,
            "moderation",
            f"moderation:{case_ref}",
            chat_pk=chat_pk,
            ref=case_ref,
            operator="moderation",
            clamp=True,
        )
