"""Points tables: the append-only ledger, cached balances, daily caps, check-ins and campaigns.

The ledger (`points_ledger`) is the truth: one row per change, never updated or deleted (the
database refuses both), made idempotent by its unique `idempotency_key`. `points_accounts`
caches each member's balance (CHECK balance >= 0) and is changed in the same transaction as
the entry it reflects, so `balance == SUM(delta)` always holds (`qunyun points verify`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class PointsAccount(Base):
    """A member's cached balance and lifetime earned points; one row per member."""

    __tablename__ = "points_accounts"
    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("earned >= 0", name="earned_not_negative"),
    )

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    earned: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]


class PointsEntry(Base):
    """One append-only ledger line. A correction is a new, opposite entry."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        CheckConstraint("delta <> 0", name="delta_not_zero"),
        Index("ix_points_ledger_member_id_id", "member_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id"), index=True)
    delta: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32), index=True)
    ref: Mapped[str | None] = mapped_column(String(128))
    operator: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(191), unique=True)
    created_at: Mapped[datetime] = mapped_column(index=True)


class PointsDaily(Base):
    """Per member and community day: points earned of one kind and when (caps, cooldowns)."""

    __tablename__ = "points_daily"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    earned: Mapped[int] = mapped_column(Integer, default=0)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime | None]


class CheckinCampaign(Base):
    """A check-in campaign: which groups, when, how many points, which streak bonuses.

    `chats` holds "<platform>:<chat id>" keys; an empty list means every group.
    `streak_bonuses` maps a streak day ("7") to bonus points.
    """

    __tablename__ = "checkin_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    chats: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    points: Mapped[int] = mapped_column(Integer)
    streak_bonuses: Mapped[dict[str, Any]] = mapped_column(default=dict)
    streak_bonus_repeat: Mapped[bool] = mapped_column(default=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class Checkin(Base):
    """One member's check-in for one community day (at most one; make-up days included)."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("member_id", "day"),
        Index("ix_checkins_chat_id_day", "chat_id", "day"),
        Index("ix_checkins_day", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    day: Mapped[date]
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("checkin_campaigns.id"))
    streak: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer, default=0)
    bonus: Mapped[int] = mapped_column(Integer, default=0)
    rank: Mapped[int] = mapped_column(Integer, default=0)  # 第 N 位 in its group; 0 = make-up
    makeup: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class CheckinCounter(Base):
    """How many members checked in in a group on a day; its row lock makes ranks exact."""

    __tablename__ = "checkin_counters"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


# The ledger is append-only: the database itself refuses UPDATE and DELETE of an entry.
# (TRUNCATE, used to reset test databases, is deliberately not covered.)
LEDGER_GUARD_POSTGRESQL = (
    "CREATE FUNCTION points_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'points_ledger is append-only'; END $$",
    "CREATE TRIGGER points_ledger_append_only BEFORE UPDATE OR DELETE ON points_ledger "
    "FOR EACH ROW EXECUTE FUNCTION points_ledger_append_only()",
)
LEDGER_GUARD_SQLITE = (
    "CREATE TRIGGER points_ledger_no_update BEFORE UPDATE ON points_ledger "
    "BEGIN SELECT RAISE(ABORT, 'points_ledger is append-only'); END",
    "CREATE TRIGGER points_ledger_no_delete BEFORE DELETE ON points_ledger "
    "BEGIN SELECT RAISE(ABORT, 'points_ledger is append-only'); END",
)


def _guard(statement: str, dialect: str) -> None:
    ddl = DDL(statement).execute_if(dialect=dialect)  # type: ignore[no-untyped-call]
    event.listen(PointsEntry.__table__, "after_create", ddl)


for _statement in LEDGER_GUARD_POSTGRESQL:
    _guard(_statement, "postgresql")
for _statement in LEDGER_GUARD_SQLITE:
    _guard(_statement, "sqlite")
