"""The points ledger: atomic, idempotent credits and debits that never overdraw.

Runs inside the caller's transaction (the inbox worker's for a handler, the request's for the
admin API, a job's own). `PointsService.apply` appends one `points_ledger` row and moves the
cached `points_accounts` balance in that same transaction — or changes nothing at all:
- the idempotency key is unique, so a retried webhook, a double tap or a second worker finds
  the key taken and gets `duplicate` (no second credit);
- a debit moves the balance with `UPDATE … SET balance = balance + d WHERE balance + d >= 0`,
  an atomic conditional update, so concurrent debits can never overdraw (`insufficient`
  instead); a credit is an upsert that also opens the account on the first credit.
The entry is written after the account row is locked (by that UPDATE/upsert), so entry ids
follow the balance order and `balance_after` is a checkable running total (points_audit.py).
Balances are per member (members.id) across all groups; each entry records its group.

Busy paths write many credits at once (`credit_many`: one account upsert and one ledger insert
for a whole worker batch). A batch writer that holds entries back registers with `defer`; every
read or write of the ledger here runs it first, so nothing in the batch sees a stale balance.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.clock import Clock
from app.db.upsert import insert_rows
from app.services.levels import LevelStatus, level_status, level_up
from app.services.points_config import Level, PointsConfig, Rules
from app.services.points_sql import ACCOUNTS, LEDGER, credit_accounts, ledger_entries, stmt

REASON_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
# Positive entries that give back what was spent do not count as "earned" (levels, boards).
NON_EARNING_REASONS = frozenset({"refund"})
MAX_DELTA = 10_000_000
MAX_KEY_LENGTH = 191

LedgerStatus = Literal["applied", "duplicate", "insufficient"]


class LedgerError(ValueError):
    """A call the ledger refuses outright (zero delta, bad reason code, bad key)."""


class LedgerConflict(RuntimeError):
    """A key `credit_many` was given as new was written meanwhile by another transaction.
    Nothing may commit: the caller's transaction rolls back (the worker then retries)."""


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
class Credit:
    """One earning entry for `credit_many`."""

    member_pk: int
    delta: int
    reason: str
    key: str
    at: datetime
    chat_pk: int | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class ChatScope:
    key: str | None  # "<platform>:<chat id>"
    profile: str | None


@dataclass(frozen=True, slots=True)
class Account:
    member_pk: int
    balance: int
    earned: int


def ledger_key(prefix: str, ref: str) -> str:
    """An idempotency key "<prefix>:<ref>"; a ref too long for the column is hashed (still
    unique per ref), so a long channel message id cannot make a message fail."""
    key = f"{prefix}:{ref}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{prefix}:sha256:{hashlib.sha256(ref.encode()).hexdigest()}"


def is_earning(reason: str, delta: int) -> bool:
    return delta > 0 and reason not in NON_EARNING_REASONS


def _earned(credit: Credit) -> int:
    return credit.delta if is_earning(credit.reason, credit.delta) else 0


def _entry_row(
    member_pk: int,
    chat_pk: int | None,
    delta: int,
    balance_after: int,
    reason: str,
    key: str,
    at: datetime,
    ref: str | None = None,
    operator: str | None = None,
    note: str | None = None,
) -> dict[str, object]:
    return {
        "member_id": member_pk,
        "chat_id": chat_pk,
        "delta": delta,
        "balance_after": balance_after,
        "reason": reason,
        "ref": ref[:128] if ref else None,
        "operator": operator[:64] if operator else None,
        "note": note[:255] if note else None,
        "idempotency_key": key,
        "created_at": at,
    }


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
        self._scopes: dict[int, ChatScope] = {}  # read once per service (per worker batch)
        self._deferred: list[Callable[[], None]] = []

    def defer(self, write: Callable[[], None]) -> None:
        """Register a batch writer holding entries back; `flush` (run before every ledger
        read or write here, and by the worker at the end of the batch) calls it once."""
        if write not in self._deferred:
            self._deferred.append(write)

    def flush(self) -> None:
        """Write what batch writers hold back."""
        while self._deferred:
            self._deferred.pop(0)()

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
        self.flush()
        at = at or self.clock.now()
        if clamp and delta < 0:
            delta = -min(-delta, self._locked_balance(member_pk))
            if delta == 0:
                return self._duplicate(key) or self._insufficient(member_pk)
        earned_delta = delta if is_earning(reason, delta) else 0
        moved = self._move(member_pk, delta, earned_delta, at)
        if moved is None:  # not enough points — unless this key was paid before
            return self._duplicate(key) or self._insufficient(member_pk)
        balance, earned = moved
        entry = _entry_row(
            member_pk, chat_pk, delta, balance, reason, key, at, ref, operator, note
        )
        entry_id = self.session.scalar(stmt(self.session, "entry"), entry)
        if entry_id is None:  # the key was paid before (or by a transaction we waited for)
            self._move(member_pk, -delta, -earned_delta, at)
            duplicate = self._duplicate(key)
            assert duplicate is not None
            return duplicate
        up = self._level_up(balance, earned, delta, earned_delta)
        return LedgerResult("applied", delta, balance, earned, int(entry_id), up)

    def taken_keys(self, keys: Collection[str]) -> set[str]:
        """The idempotency keys among `keys` that the ledger already has."""
        if not keys:
            return set()
        found = self.session.scalars(stmt(self.session, "keys_taken"), {"keys": sorted(keys)})
        return set(found)

    def credit_many(self, credits: Sequence[Credit]) -> list[LedgerResult]:
        """Apply many credits at once; the results come in the order of `credits`.

        The keys must be new (see `taken_keys`): one taken meanwhile by another transaction
        raises LedgerConflict. Accounts are upserted in member order, so two batches lock
        them in the same order; a member's entries follow the order given, each with its
        running `balance_after` and its own level-up.
        """
        if not credits:
            return []
        totals: dict[int, tuple[int, int]] = {}
        for credit in credits:
            check_entry(credit.delta, credit.reason, credit.key)
            if credit.delta < 0:
                raise LedgerError("credit_many only credits; debit with apply")
            balance, earned = totals.get(credit.member_pk, (0, 0))
            totals[credit.member_pk] = (balance + credit.delta, earned + _earned(credit))
        at = max(credit.at for credit in credits)
        accounts = [
            {"member_id": member, "balance": balance, "earned": earned, "updated_at": at}
            for member, (balance, earned) in sorted(totals.items())
        ]
        moved = insert_rows(
            self.session, ACCOUNTS, accounts, ("points", "credit"), credit_accounts
        )
        running = {int(row.member_id): (int(row.balance), int(row.earned)) for row in moved}
        after: list[tuple[int, int]] = [(0, 0)] * len(credits)
        for index in reversed(range(len(credits))):  # the last entry ends at the new balance
            credit = credits[index]
            balance, earned = after[index] = running[credit.member_pk]
            running[credit.member_pk] = (balance - credit.delta, earned - _earned(credit))
        rows = [
            _entry_row(c.member_pk, c.chat_pk, c.delta, balance, c.reason, c.key, c.at, c.ref)
            for c, (balance, _) in zip(credits, after, strict=True)
        ]
        written = insert_rows(self.session, LEDGER, rows, ("points", "entries"), ledger_entries)
        ids = {row.idempotency_key: int(row.id) for row in written}
        if len(ids) != len(credits):
            raise LedgerConflict("a ledger key was written by another transaction")
        return [
            LedgerResult(
                "applied",
                credit.delta,
                balance,
                earned,
                ids[credit.key],
                self._level_up(balance, earned, credit.delta, _earned(credit)),
            )
            for credit, (balance, earned) in zip(credits, after, strict=True)
        ]

    def _move(
        self, member_pk: int, delta: int, earned_delta: int, at: datetime
    ) -> tuple[int, int] | None:
        """Change the cached balance in place; None when a debit would overdraw."""
        if delta > 0:
            credit = {"member_id": member_pk, "balance": delta, "earned": earned_delta}
            row = self.session.execute(
                stmt(self.session, "credit"), {**credit, "updated_at": at}
            ).first()
        else:
            debit = {"member": member_pk, "delta": delta, "earned_delta": earned_delta, "at": at}
            row = self.session.execute(stmt(self.session, "debit"), debit).first()
        return None if row is None else (int(row.balance), int(row.earned))

    def _locked_balance(self, member_pk: int) -> int:
        balance = self.session.scalar(stmt(self.session, "locked_balance"), {"member": member_pk})
        return int(balance or 0)

    def _duplicate(self, key: str) -> LedgerResult | None:
        found = self.session.execute(stmt(self.session, "entry_by_key"), {"key": key}).first()
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
        self.flush()
        row = self.session.execute(stmt(self.session, "account"), {"member": member_pk}).first()
        if row is None:
            return Account(member_pk, 0, 0)
        return Account(member_pk, int(row.balance), int(row.earned))

    def score(self, account: Account) -> int:
        """The number levels are measured by (config `level_basis`)."""
        return account.balance if self.config.level_basis == "balance" else account.earned

    def level_status(self, member_pk: int) -> LevelStatus:
        return level_status(self.config.levels, self.score(self.account(member_pk)))

    def expect_chats(self, chat_pks: Iterable[int]) -> None:
        """Read the scopes of a batch's chats in one query (the worker, before the batch)."""
        wanted = sorted(set(chat_pks) - self._scopes.keys())
        if wanted:
            for chat in self.session.execute(stmt(self.session, "chats"), {"chats": wanted}):
                self._scopes[chat.id] = ChatScope(
                    f"{chat.platform}:{chat.external_id}", chat.profile
                )

    def chat_scope(self, chat_pk: int | None) -> ChatScope:
        """The group's "<platform>:<chat id>" key and profile (what rules and campaigns use)."""
        if chat_pk is None:
            return ChatScope(None, None)
        if chat_pk not in self._scopes:
            self.expect_chats([chat_pk])
        return self._scopes.get(chat_pk, ChatScope(None, None))

    def rules_for(self, chat_pk: int | None) -> Rules:
        """The earning rules of a group (defaults < profile < the group's own overrides)."""
        return self.rules_in(self.chat_scope(chat_pk))

    def rules_in(self, scope: ChatScope) -> Rules:
        return self.config.rules_for(profile=scope.profile, group_key=scope.key)

    # -- conveniences for other features --------------------------------------------------
    def deduct_for_violation(
        self, member_pk: int, points: int, case_ref: str, *, chat_pk: int | None = None
    ) -> LedgerResult:
        """Moderation penalty: takes up to `points` (never below zero), once per case."""
        return self.apply(
            member_pk,
            -points,
            "moderation",
            ledger_key("moderation", case_ref),
            chat_pk=chat_pk,
            ref=case_ref,
            operator="moderation",
            clamp=True,
        )
