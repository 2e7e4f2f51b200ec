"""Check-in statistics per community day: how many checked in, out of how many, the rate.

Read-only (admin API). "Members" of a day are the group's members present that day (joined
or first seen before the day ended, not left before it began); without a group, every member
present in any group. Make-up days (补签) are not counted as check-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.db.models import Chat, ChatMember, Checkin


@dataclass(frozen=True, slots=True)
class DayStats:
    day: date
    checkins: int
    members: int

    @property
    def rate(self) -> float:
        return round(self.checkins / self.members, 4) if self.members else 0.0


def _checkins(session: Session, chat_pk: int | None, since: date, until: date) -> dict[date, int]:
    stmt = (
        select(Checkin.day, func.count())
        .where(Checkin.day >= since, Checkin.day <= until, Checkin.makeup.is_(False))
        .group_by(Checkin.day)
    )
    if chat_pk is not None:
        stmt = stmt.where(Checkin.chat_id == chat_pk)
    return {day: int(count) for day, count in session.execute(stmt).all()}


def _members(session: Session, chat_pk: int | None, day: date, tz: ZoneInfo) -> int:
    start = datetime.combine(day, time(), tz)
    end = start + timedelta(days=1)
    arrived = func.coalesce(ChatMember.joined_at, ChatMember.first_seen_at)
    stmt = (
        select(func.count(func.distinct(ChatMember.member_id)))
        .join(Chat, Chat.id == ChatMember.chat_id)
        .where(
            Chat.is_group.is_(True),
            arrived < end,
            or_(ChatMember.left_at.is_(None), ChatMember.left_at >= start),
        )
    )
    if chat_pk is not None:
        stmt = stmt.where(ChatMember.chat_id == chat_pk)
    return int(session.scalar(stmt) or 0)


def daily_stats(
    session: Session, *, chat_pk: int | None, since: date, until: date, tz: ZoneInfo
) -> list[DayStats]:
    """One row per day from `since` to `until` (inclusive)."""
    counts = _checkins(session, chat_pk, since, until)
    days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
    return [DayStats(day, counts.get(day, 0), _members(session, chat_pk, day, tz)) for day in days]
