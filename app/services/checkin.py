"""Daily check-in (签到) and make-up cards (补签卡).

Runs inside the inbox worker's transaction when a member sends 签到/补签 (and in the
benchmark). Changes `checkins` (one row per member per community day — the unique
(member, day) key is what makes 50 simultaneous 签到 pay once), `checkin_counters` (the
group's count for the day, whose row lock makes 第 N 位 exact) and the points ledger
(check-in points, streak bonus, card price). The community day ends at 00:00 in the
community timezone (settings.tz).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.clock import local_date
from app.db.models import Checkin, CheckinCounter
from app.db.upsert import insert_ignore
from app.services.checkin_campaigns import plan_for
from app.services.points import LedgerResult, PointsService
from app.services.points_config import Level, streak_bonus

CheckinStatus = Literal["checked_in", "already", "disabled"]
MakeupStatus = Literal["made_up", "not_needed", "limit", "insufficient", "disabled"]


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


@dataclass(frozen=True, slots=True)
class MakeupResult:
    status: MakeupStatus
    day: date
    cost: int = 0
    streak: int = 0
    balance: int = 0
    limit: int = 0


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
        rules = self.points.rules_for(chat_pk)
        if not rules.checkin_enabled:
            return CheckinResult("disabled", day)
        if (existing := self._row(member_pk, day)) is not None:
            return self._already(existing)
        plan = plan_for(self.session, chat_pk, at, rules)
        streak = self._streak_on(member_pk, day - timedelta(days=1)) + 1
        bonus = streak_bonus(plan.bonuses, streak, repeat=plan.repeat)
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
        inserted = insert_ignore(self.session, Checkin, [row], ["member_id", "day"], Checkin.id)
        if not inserted:  # a concurrent 签到 of the same member won
            won = self._row(member_pk, day)
            assert won is not None
            return self._already(won)
        rank = self._next_rank(chat_pk, day)
        self.session.execute(update(Checkin).where(Checkin.id == inserted.pop()).values(rank=rank))
        results = self._pay(member_pk, chat_pk, day, at, plan.points, bonus, streak)
        ups = [r.level_up for r in results if r.level_up is not None]
        balance = self.points.account(member_pk).balance
        return CheckinResult(
            "checked_in", day, plan.points, bonus, streak, rank, balance, ups[-1] if ups else None
        )

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
            paid.append(self._pay_bonus(member_pk, chat_pk, day, at, bonus, streak))
        return paid

    def _pay_bonus(
        self, member_pk: int, chat_pk: int, day: date, at: datetime, bonus: int, streak: int
    ) -> LedgerResult:
        key = f"streak:{member_pk}:{day.isoformat()}"
        ref = f"{day.isoformat()}:{streak}"
        return self.points.apply(
            member_pk, bonus, "streak_bonus", key, chat_pk=chat_pk, ref=ref, at=at
        )

    def _already(self, row: Checkin) -> CheckinResult:
        balance = self.points.account(row.member_id).balance
        return CheckinResult(
            "already", row.day, row.points, row.bonus, row.streak, row.rank, balance
        )

    def _row(self, member_pk: int, day: date) -> Checkin | None:
        return self.session.scalar(
            select(Checkin).where(Checkin.member_id == member_pk, Checkin.day == day)
        )

    def _streak_on(self, member_pk: int, day: date) -> int:
        streak = self.session.scalar(
            select(Checkin.streak).where(Checkin.member_id == member_pk, Checkin.day == day)
        )
        return int(streak or 0)

    def _next_rank(self, chat_pk: int, day: date) -> int:
        row = {"chat_id": chat_pk, "day": day, "count": 0}
        insert_ignore(
            self.session, CheckinCounter, [row], ["chat_id", "day"], CheckinCounter.chat_id
        )
        count = self.session.scalar(
            update(CheckinCounter)
            .where(CheckinCounter.chat_id == chat_pk, CheckinCounter.day == day)
            .values(count=CheckinCounter.count + 1)
            .returning(CheckinCounter.count)
            .execution_options(synchronize_session=False)
        )
        return int(count or 0)

    def current_streak(self, member_pk: int, *, at: datetime | None = None) -> int:
        """Consecutive days up to today (or up to yesterday, if today is still open)."""
        today = local_date(at or self.points.clock.now(), self.points.tz)
        return self._streak_on(member_pk, today) or self._streak_on(
            member_pk, today - timedelta(days=1)
        )

    # -- make-up cards ---------------------------------------------------------------------
    def make_up(self, member_pk: int, chat_pk: int, *, at: datetime | None = None) -> MakeupResult:
        """补签: spend points to fill in yesterday, keeping the streak alive."""
        at = at or self.points.clock.now()
        today = local_date(at, self.points.tz)
        target = today - timedelta(days=1)
        rules = self.points.rules_for(chat_pk)
        if not rules.makeup_enabled:
            return MakeupResult("disabled", target)
        balance = self.points.account(member_pk).balance
        if self._row(member_pk, target) is not None:
            return MakeupResult("not_needed", target, balance=balance)
        if self._makeups_this_month(member_pk, today) >= rules.makeup_per_month:
            return MakeupResult("limit", target, balance=balance, limit=rules.makeup_per_month)
        key = f"makeup:{member_pk}:{target.isoformat()}"
        paid = self.points.apply(
            member_pk,
            -rules.makeup_cost,
            "makeup_card",
            key,
            chat_pk=chat_pk,
            ref=target.isoformat(),
            at=at,
        )
        if not paid.applied:
            status: MakeupStatus = "insufficient" if not paid.ok else "not_needed"
            return MakeupResult(status, target, rules.makeup_cost, balance=paid.balance)
        streak = self._fill(member_pk, chat_pk, target, at, rules.makeup_cost)
        if streak == 0:
            return MakeupResult(
                "not_needed", target, balance=self.points.account(member_pk).balance
            )
        streak = self._extend_today(member_pk, today, at, streak)
        balance = self.points.account(member_pk).balance
        return MakeupResult("made_up", target, rules.makeup_cost, streak, balance)

    def _fill(self, member_pk: int, chat_pk: int, target: date, at: datetime, cost: int) -> int:
        """Insert the make-up day; its streak, or 0 (and a refund) if the day got filled."""
        streak = self._streak_on(member_pk, target - timedelta(days=1)) + 1
        row = {
            "member_id": member_pk,
            "day": target,
            "chat_id": chat_pk,
            "campaign_id": None,
            "streak": streak,
            "points": 0,
            "bonus": 0,
            "rank": 0,
            "makeup": True,
            "created_at": at,
        }
        if insert_ignore(self.session, Checkin, [row], ["member_id", "day"], Checkin.id):
            return streak
        key = f"refund:makeup:{member_pk}:{target.isoformat()}"
        self.points.apply(member_pk, cost, "refund", key, chat_pk=chat_pk, at=at)
        return 0

    def _extend_today(self, member_pk: int, today: date, at: datetime, streak: int) -> int:
        """Today's check-in now continues the filled-in day: lengthen it, pay a late bonus."""
        row = self._row(member_pk, today)
        if row is None:
            return streak
        row.streak = streak + 1
        plan = plan_for(self.session, row.chat_id, at, self.points.rules_for(row.chat_id))
        bonus = streak_bonus(plan.bonuses, row.streak, repeat=plan.repeat)
        if bonus > 0 and row.bonus == 0:
            paid = self._pay_bonus(member_pk, row.chat_id, today, at, bonus, row.streak)
            row.bonus = bonus if paid.applied else row.bonus
        self.session.flush()
        return row.streak

    def _makeups_this_month(self, member_pk: int, today: date) -> int:
        start = datetime.combine(today.replace(day=1), time(), self.points.tz)
        count = self.session.scalar(
            select(func.count())
            .select_from(Checkin)
            .where(
                Checkin.member_id == member_pk,
                Checkin.makeup.is_(True),
                Checkin.created_at >= start,
            )
        )
        return int(count or 0)
