"""The SQL of the points hot paths (ledger, check-in, activity), built once per dialect.

Core statements over the tables, executed with parameter dicts: building, compiling and
ORM-processing a statement per call cost more than the database work itself (each check-in
and each group message runs several of these). `stmt(session, name)` returns the statement
for the session's dialect. No business rules here; see points.py, checkin.py,
points_activity.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import BigInteger, Integer, Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from app.db.base import UtcDateTime
from app.db.models import (
    Chat,
    Checkin,
    CheckinCampaign,
    CheckinCounter,
    PointsAccount,
    PointsDaily,
    PointsEntry,
)
from app.db.upsert import cached_statement, dialect_insert, one_of


def _table(model: type[Any]) -> Table:
    table: Table = model.__table__
    return table


ACCOUNTS = _table(PointsAccount)
LEDGER = _table(PointsEntry)
DAILY = _table(PointsDaily)
CHATS = _table(Chat)
CHECKINS = _table(Checkin)
COUNTERS = _table(CheckinCounter)
CAMPAIGNS = _table(CheckinCampaign)


def credit_accounts(_dialect: str, insert: Any) -> Any:
    """Add to balances, creating an account on its first credit (one row or many)."""
    return insert.on_conflict_do_update(
        index_elements=[ACCOUNTS.c.member_id],
        set_={
            "balance": ACCOUNTS.c.balance + insert.excluded.balance,
            "earned": ACCOUNTS.c.earned + insert.excluded.earned,
            "updated_at": insert.excluded.updated_at,
        },
    ).returning(ACCOUNTS.c.member_id, ACCOUNTS.c.balance, ACCOUNTS.c.earned)


def _credit(dialect: str) -> Any:
    return credit_accounts(dialect, dialect_insert(dialect)(ACCOUNTS))


def _debit(_: str) -> Any:
    """Take from a balance only if it stays >= 0 (the conditional update that never overdraws)."""
    delta = bindparam("delta", type_=BigInteger)
    return (
        update(ACCOUNTS)
        .where(ACCOUNTS.c.member_id == bindparam("member"), ACCOUNTS.c.balance + delta >= 0)
        .values(
            balance=ACCOUNTS.c.balance + delta,
            earned=ACCOUNTS.c.earned + bindparam("earned_delta", type_=BigInteger),
            updated_at=bindparam("at", type_=UtcDateTime()),
        )
        .returning(ACCOUNTS.c.balance, ACCOUNTS.c.earned)
    )


def ledger_entries(_dialect: str, insert: Any) -> Any:
    """Append entries; one whose idempotency key is taken is skipped (not returned)."""
    return insert.on_conflict_do_nothing(index_elements=[LEDGER.c.idempotency_key]).returning(
        LEDGER.c.id, LEDGER.c.idempotency_key
    )


def _entry(dialect: str) -> Any:
    return ledger_entries(dialect, dialect_insert(dialect)(LEDGER))


def _keys_taken(dialect: str) -> Any:
    return select(LEDGER.c.idempotency_key).where(
        one_of(dialect, LEDGER.c.idempotency_key, "keys")
    )


def _entry_by_key(_: str) -> Any:
    return select(LEDGER.c.id, LEDGER.c.member_id, LEDGER.c.delta).where(
        LEDGER.c.idempotency_key == bindparam("key")
    )


def _account(_: str) -> Any:
    return select(ACCOUNTS.c.balance, ACCOUNTS.c.earned).where(
        ACCOUNTS.c.member_id == bindparam("member")
    )


def _locked_balance(_: str) -> Any:
    return (
        select(ACCOUNTS.c.balance)
        .where(ACCOUNTS.c.member_id == bindparam("member"))
        .with_for_update()
    )


def _chats(dialect: str) -> Any:
    return select(CHATS.c.id, CHATS.c.platform, CHATS.c.external_id, CHATS.c.profile).where(
        one_of(dialect, CHATS.c.id, "chats")
    )


def _running_campaigns(_: str) -> Any:
    at = bindparam("at", type_=UtcDateTime())
    return (
        select(
            CAMPAIGNS.c.id,
            CAMPAIGNS.c.name,
            CAMPAIGNS.c.chats,
            CAMPAIGNS.c.points,
            CAMPAIGNS.c.streak_bonuses,
            CAMPAIGNS.c.streak_bonus_repeat,
        )
        .where(
            CAMPAIGNS.c.enabled.is_(True),
            CAMPAIGNS.c.starts_at <= at,
            or_(CAMPAIGNS.c.ends_at.is_(None), CAMPAIGNS.c.ends_at > at),
        )
        .order_by(CAMPAIGNS.c.starts_at.desc(), CAMPAIGNS.c.id.desc())
    )


def _recent_checkins(_: str) -> Any:
    """A member's check-ins on two days (yesterday for the streak, today for "already")."""
    return select(
        CHECKINS.c.day,
        CHECKINS.c.points,
        CHECKINS.c.bonus,
        CHECKINS.c.streak,
        CHECKINS.c.rank,
    ).where(
        CHECKINS.c.member_id == bindparam("member"),
        CHECKINS.c.day.in_([bindparam("yesterday"), bindparam("today")]),
    )


def _checkin(dialect: str) -> Any:
    insert = dialect_insert(dialect)(CHECKINS)
    return insert.on_conflict_do_nothing(
        index_elements=[CHECKINS.c.member_id, CHECKINS.c.day]
    ).returning(CHECKINS.c.id)


def _next_rank(dialect: str) -> Any:
    """Count one more check-in of the group today; the row lock serialises ranks."""
    insert = dialect_insert(dialect)(COUNTERS)
    return insert.on_conflict_do_update(
        index_elements=[COUNTERS.c.chat_id, COUNTERS.c.day],
        set_={"count": COUNTERS.c.count + 1},
    ).returning(COUNTERS.c.count)


def _set_rank(_: str) -> Any:
    return (
        update(CHECKINS)
        .where(CHECKINS.c.id == bindparam("checkin"))
        .values(rank=bindparam("rank", type_=Integer))
    )


BUILDERS: dict[str, Callable[[str], Any]] = {
    "credit": _credit,
    "debit": _debit,
    "entry": _entry,
    "entry_by_key": _entry_by_key,
    "keys_taken": _keys_taken,
    "account": _account,
    "locked_balance": _locked_balance,
    "chats": _chats,
    "running_campaigns": _running_campaigns,
    "recent_checkins": _recent_checkins,
    "checkin": _checkin,
    "next_rank": _next_rank,
    "set_rank": _set_rank,
}


def stmt(session: Session, name: str) -> Any:
    """The named statement, built once for the session's dialect."""
    return cached_statement(session, ("points", name), BUILDERS[name])
