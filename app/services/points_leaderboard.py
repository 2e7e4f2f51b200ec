"""排行榜: points earned this week, this month or all time, top 10 plus the asker's place.

Read-only. In a group the board ranks the group's current members; in a 1:1 chat, everyone.
"Earned" means positive entries except refunds, so spending never lowers a place; all-time
uses each account's lifetime `earned`. Weeks start on Monday 00:00, months on the 1st, in the
community timezone. Ties share a place (1, 2, 2, 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import Session

from app.db.models import ChatMember, Member, PointsAccount, PointsEntry
from app.services.points import NON_EARNING_REASONS

Period = Literal["week", "month", "all"]
PERIOD_WORDS: dict[str, Period] = {
    "": "week",
    "周": "week",
    "本周": "week",
    "周榜": "week",
    "月": "month",
    "本月": "month",
    "月榜": "month",
    "总": "all",
    "总榜": "all",
    "全部": "all",
    "总排行": "all",
    "历史": "all",
}


@dataclass(frozen=True, slots=True)
class Standing:
    rank: int
    member_pk: int
    name: str
    points: int


@dataclass(frozen=True, slots=True)
class Board:
    period: Period
    top: list[Standing]
    me: Standing | None


def period_start(period: Period, now: datetime, tz: ZoneInfo) -> datetime | None:
    today = now.astimezone(tz).date()
    if period == "week":
        return datetime.combine(today - timedelta(days=today.weekday()), time(), tz)
    if period == "month":
        return datetime.combine(today.replace(day=1), time(), tz)
    return None


def _scores(period: Period, now: datetime, tz: ZoneInfo) -> Subquery:
    start = period_start(period, now, tz)
    if start is None:
        return (
            select(PointsAccount.member_id, PointsAccount.earned.label("points"))
            .where(PointsAccount.earned > 0)
            .subquery()
        )
    return (
        select(PointsEntry.member_id, func.sum(PointsEntry.delta).label("points"))
        .where(
            PointsEntry.created_at >= start,
            PointsEntry.delta > 0,
            PointsEntry.reason.not_in(NON_EARNING_REASONS),
        )
        .group_by(PointsEntry.member_id)
        .subquery()
    )


def leaderboard(
    session: Session,
    *,
    period: Period,
    member_pk: int,
    chat_pk: int | None,
    now: datetime,
    tz: ZoneInfo,
    limit: int = 10,
) -> Board:
    scores = _scores(period, now, tz)
    stmt = select(scores.c.member_id, scores.c.points, Member.name).join(
        Member, Member.id == scores.c.member_id
    )
    if chat_pk is not None:
        stmt = stmt.join(
            ChatMember,
            (ChatMember.member_id == scores.c.member_id) & (ChatMember.chat_id == chat_pk),
        ).where(ChatMember.left_at.is_(None))
    rows = session.execute(stmt.order_by(scores.c.points.desc(), scores.c.member_id)).all()
    standings: list[Standing] = []
    for index, row in enumerate(rows):
        rank = (
            standings[-1].rank if standings and standings[-1].points == row.points else index + 1
        )
        standings.append(Standing(rank, int(row.member_id), row.name or "群友", int(row.points)))
    me = next((s for s in standings if s.member_pk == member_pk), None)
    return Board(period, standings[:limit], me)
