"""Daily check-in (签到); make-up cards (补签卡) are in checkin_makeup.py.

Runs inside the inbox worker's transaction when a member sends 签到/补签 (and in the
benchmark). Changes `checkins` (one row per member per community day — the unique
(member, day) key is what makes 50 simultaneous 签到 pay once), `checkin_counters` (the
group's count for the day, whose row lock makes 第 N 位 exact) and the points ledger
(check-in points, streak bonus, card price). The community day ends at 00:00 in the
community timezone (settings.tz).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import local_date
from app.db.models import Checkin
from app.services.checkin_campaigns import CheckinPlan, plan_for
from app.services.checkin_makeup import MakeupResult, make_up
from app.services.points import LedgerResult, PointsService
from app.services.points_config import Level, streak_bonus
from app.services.points_sql import stmt

CheckinStatus = Literal["checked_in", "already", "disabled"]


@dataclass(frozen=True, slots=True)
class CheckinResult:
    status: CheckinStatus
    day: date
    points: int = 0
    bonus: int = 0
    streak: int = 0
    rank: int = 0
    balance: int = 0
    level_up: Level | None = None


class CheckinService:
    def __init__(self, session: Session, points: PointsService) -> None:
        self.session = session
        self.points = points

    def check_in(
        self, member_pk: int, chat_pk: int, *, at: datetime | None = None
    ) -> CheckinResult:
        """Credit today's check-in once; a second 签到 the same day returns `already`."""
        at = at or self.points.clock.now()
        day = local_date(at, self.points.tz)
        scope = self.points.chat_scope(chat_pk)
        rules = self.points.rules_in(scope)
        if not rules.checkin_enabled:
            return CheckinResult("disabled", day)
        recent = self._recent(member_pk, day)
        if day in recent:
            return self._already(member_pk, day, recent[day])
        plan = plan_for(self.session, scope.key, at, rules)
        yesterday = recent.get(day - timedelta(days=1))
        streak = (yesterday.streak if yesterday is not None else 0) + 1
        bonus = streak_bonus(plan.bonuses, streak, repeat=plan.repeat)
        rank = self._record(member_pk, chat_pk, day, at, plan, streak, bonus)
        if rank is None:  # a concurrent 签到 of the same member won
            return self._already(member_pk, day, self._recent(member_pk, day)[day])
        paid = self._pay(member_pk, chat_pk, day, at, plan.points, bonus, streak)
        ups = [r.level_up for r in paid if r.level_up is not None]
        balance = paid[-1].balance if paid else self.points.account(member_pk).balance
        return CheckinResult(
            "checked_in", day, plan.points, bonus, streak, rank, balance, ups[-1] if ups else None
        )

    def _record(
        self,
        member_pk: int,
        chat_pk: int,
        day: date,
        at: datetime,
        plan: CheckinPlan,
        streak: int,
        bonus: int,
    ) -> int | None:
        """Insert the day's check-in and rank it in its group; None if it already exists."""
        row = {
            "member_id": member_pk,
            "day": day,
            "chat_id": chat_pk,
            "campaign_id": plan.campaign_id,
            "streak": streak,
            "points": plan.points,
            "bonus": bonus,
            "rank": 0,
            "makeup": False,
            "created_at": at,
        }
        checkin_id = self.session.scalar(stmt(self.session, "checkin"), row)
        if checkin_id is None:
            return None
        counter = {"chat_id": chat_pk, "day": day, "count": 1}
        rank = int(self.session.scalar(stmt(self.session, "next_rank"), counter))
        self.session.execute(stmt(self.session, "set_rank"), {"checkin": checkin_id, "rank": rank})
        return rank

    def _recent(self, member_pk: int, day: date) -> dict[date, Any]:
        """The member's check-in rows of `day` and the day before, by day."""
        params = {"member": member_pk, "yesterday": day - timedelta(days=1), "today": day}
        rows = self.session.execute(stmt(self.session, "recent_checkins"), params).all()
        return {row.day: row for row in rows}

    def _already(self, member_pk: int, day: date, row: Any) -> CheckinResult:
        balance = self.points.account(member_pk).balance
        return CheckinResult("already", day, row.points, row.bonus, row.streak, row.rank, balance)

    def _pay(
        self,
        member_pk: int,
        chat_pk: int,
        day: date,
        at: datetime,
        points: int,
        bonus: int,
        streak: int,
    ) -> list[LedgerResult]:
        paid: list[LedgerResult] = []
        if points > 0:
            key = f"checkin:{member_pk}:{day.isoformat()}"
            paid.append(
                self.points.apply(
                    member_pk, points, "checkin", key, chat_pk=chat_pk, ref=day.isoformat(), at=at
                )
            )
        if bonus > 0:
            paid.append(self.pay_bonus(member_pk, chat_pk, day, at, bonus, streak))
        return paid

    def pay_bonus(
        self, member_pk: int, chat_pk: int, day: date, at: datetime, bonus: int, streak: int
    ) -> LedgerResult:
        """The streak bonus of a day (once per member and day, whoever pays it)."""
        key = f"streak:{member_pk}:{day.isoformat()}"
        ref = f"{day.isoformat()}:{streak}"
        return self.points.apply(
            member_pk, bonus, "streak_bonus", key, chat_pk=chat_pk, ref=ref, at=at
        )

    def row_on(self, member_pk: int, day: date) -> Checkin | None:
        return self.session.scalar(
            select(Checkin).where(Checkin.member_id == member_pk, Checkin.day == day)
        )

    def streak_on(self, member_pk: int, day: date) -> int:
        streak = self.session.scalar(
            select(Checkin.streak).where(Checkin.member_id == member_pk, Checkin.day == day)
        )
        return int(streak or 0)

    def current_streak(self, member_pk: int, *, at: datetime | None = None) -> int:
        """Consecutive days up to today (or up to yesterday, if today is still open)."""
        today = local_date(at or self.points.clock.now(), self.points.tz)
        return self.streak_on(member_pk, today) or self.streak_on(
            member_pk, today - timedelta(days=1)
        )

    # -- make-up cards ---------------------------------------------------------------------
    def make_up(self, member_pk: int, chat_pk: int, *, at: datetime | None = None) -> MakeupResult:
        """补签: spend points to fill in yesterday, keeping the streak alive."""
        return make_up(self, member_pk, chat_pk, at=at or self.points.clock.now())
