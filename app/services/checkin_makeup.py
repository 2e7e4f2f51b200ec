"""补签卡: spend points to fill in yesterday's check-in, keeping the streak alive.

Runs inside the inbox worker's transaction when a member sends 补签. Changes: the ledger
(the card price, once per member and day: key `makeup:<member>:<day>`; a refund if the day got
filled meanwhile), a `checkins` row marked `makeup` for yesterday, and today's row (a longer
streak, and a streak bonus it now reaches). Limited per member and community month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy import func, select

from app.clock import local_date
from app.db.models import Checkin
from app.db.upsert import insert_ignore
from app.services.checkin_campaigns import plan_for
from app.services.points_config import streak_bonus

if TYPE_CHECKING:
    from app.services.checkin import CheckinService

MakeupStatus = Literal["made_up", "not_needed", "limit", "insufficient", "disabled"]


@dataclass(frozen=True, slots=True)
class MakeupResult:
    status: MakeupStatus
    day: date
    cost: int = 0
    streak: int = 0
    balance: int = 0
    limit: int = 0


def make_up(
    checkin: CheckinService, member_pk: int, chat_pk: int, *, at: datetime
) -> MakeupResult:
    """Buy and use a make-up card for yesterday."""
    points = checkin.points
    today = local_date(at, points.tz)
    target = today - timedelta(days=1)
    rules = points.rules_for(chat_pk)
    if not rules.makeup_enabled:
        return MakeupResult("disabled", target)
    balance = points.account(member_pk).balance
    if checkin.row_on(member_pk, target) is not None:
        return MakeupResult("not_needed", target, balance=balance)
    if _makeups_this_month(checkin, member_pk, today) >= rules.makeup_per_month:
        return MakeupResult("limit", target, balance=balance, limit=rules.makeup_per_month)
    key = f"makeup:{member_pk}:{target.isoformat()}"
    paid = points.apply(
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
    streak = _fill(checkin, member_pk, chat_pk, target, at, rules.makeup_cost)
    if streak == 0:
        return MakeupResult("not_needed", target, balance=points.account(member_pk).balance)
    streak = _extend_today(checkin, member_pk, today, at, streak)
    return MakeupResult(
        "made_up", target, rules.makeup_cost, streak, points.account(member_pk).balance
    )


def _fill(
    checkin: CheckinService, member_pk: int, chat_pk: int, target: date, at: datetime, cost: int
) -> int:
    """Insert the make-up day; its streak, or 0 (and a refund) if the day got filled."""
    streak = checkin.streak_on(member_pk, target - timedelta(days=1)) + 1
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
    if insert_ignore(checkin.session, Checkin, [row], ["member_id", "day"], Checkin.id):
        return streak
    key = f"refund:makeup:{member_pk}:{target.isoformat()}"
    checkin.points.apply(member_pk, cost, "refund", key, chat_pk=chat_pk, at=at)
    return 0


def _extend_today(
    checkin: CheckinService, member_pk: int, today: date, at: datetime, streak: int
) -> int:
    """Today's check-in now continues the filled-in day: lengthen it, pay a late bonus."""
    row = checkin.row_on(member_pk, today)
    if row is None:
        return streak
    row.streak = streak + 1
    scope = checkin.points.chat_scope(row.chat_id)
    plan = plan_for(checkin.session, scope.key, at, checkin.points.rules_in(scope))
    bonus = streak_bonus(plan.bonuses, row.streak, repeat=plan.repeat)
    if bonus > 0 and row.bonus == 0:
        paid = checkin.pay_bonus(member_pk, row.chat_id, today, at, bonus, row.streak)
        row.bonus = bonus if paid.applied else row.bonus
    checkin.session.flush()
    return row.streak


def _makeups_this_month(checkin: CheckinService, member_pk: int, today: date) -> int:
    start = datetime.combine(today.replace(day=1), time(), checkin.points.tz)
    count = checkin.session.scalar(
        select(func.count())
        .select_from(Checkin)
        .where(
            Checkin.member_id == member_pk,
            Checkin.makeup.is_(True),
            Checkin.created_at >= start,
        )
    )
    return int(count or 0)
