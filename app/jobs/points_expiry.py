"""Points expiry: points expire `months` months after they were earned, oldest first.

Run daily by the scheduler (any time of day; running it twice changes nothing). Points earned
in a month expire at the start of the month `months` later plus one (earned 2025-11-23 with 12
months → expire 2026-12-01 00:00, community time). Spending uses the oldest points first, so
what expires is: points earned before the cutoff minus everything ever debited (spent,
deducted, expired before), when positive. Changes: one `expire` ledger entry per member and
month (idempotency key `expire:<member>:<cutoff>`), and `notice_days` before each monthly
expiry one outbox message per affected member, @-mentioning them in their latest group
(key `points-expiry-notice:<member>:<expiry date>`). Each member runs in its own transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.db.models import Member, PointsAccount, PointsEntry
from app.db.session import transaction
from app.jobs.registry import JobContext, JobSpec
from app.services.points import PointsService
from app.services.points_config import PointsConfig, load_points_config
from app.services.points_notices import notify_member
from app.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class ExpiryReport:
    members_expired: int = 0
    points_expired: int = 0
    notices: int = 0


def add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def expiry_cutoff(now: datetime, tz: ZoneInfo, months: int) -> datetime:
    """Points earned before this instant have expired by `now`."""
    this_month = now.astimezone(tz).date().replace(day=1)
    return datetime.combine(add_months(this_month, -months), time(), tz)


def next_expiry(now: datetime, tz: ZoneInfo) -> datetime:
    """The next moment points expire: the start of the next community month."""
    this_month = now.astimezone(tz).date().replace(day=1)
    return datetime.combine(add_months(this_month, 1), time(), tz)


def expiring_amounts(
    session: Session, cutoff: datetime, member_pk: int | None = None
) -> dict[int, int]:
    """Per member: points earned before `cutoff` that no debit has used up yet."""
    old_credits = func.sum(
        case(
            ((PointsEntry.delta > 0) & (PointsEntry.created_at < cutoff), PointsEntry.delta),
            else_=0,
        )
    )
    debits = func.sum(case((PointsEntry.delta < 0, -PointsEntry.delta), else_=0))
    stmt = (
        select(PointsEntry.member_id, old_credits - debits)
        .group_by(PointsEntry.member_id)
        .having(old_credits - debits > 0)
    )
    if member_pk is not None:
        stmt = stmt.where(PointsEntry.member_id == member_pk)
    return {int(member): int(amount) for member, amount in session.execute(stmt).all()}


def run_points_expiry(
    session_factory: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    config: PointsConfig | None = None,
) -> ExpiryReport:
    """Expire what is due and announce the next expiry; safe to run any number of times."""
    config = config or load_points_config()
    report = ExpiryReport()
    if not config.expiry.enabled:
        return report
    now, tz = clock.now(), settings.tz
    cutoff = expiry_cutoff(now, tz, config.expiry.months)
    with transaction(session_factory) as session:
        due = sorted(expiring_amounts(session, cutoff))
    for member_pk in due:
        with transaction(session_factory) as session:
            points = PointsService(session, config, clock, tz)
            expired = _expire_member(points, member_pk, cutoff, now)
        if expired:
            report.members_expired += 1
            report.points_expired += expired
    report.notices = _announce(session_factory, config, now, tz)
    log.info("points expiry", extra={"job": "points.expiry", "report": repr(report)})
    return report


def _expire_member(points: PointsService, member_pk: int, cutoff: datetime, now: datetime) -> int:
    # Lock the account first: a purchase committing meanwhile would change the amount.
    points.session.execute(
        select(PointsAccount.member_id)
        .where(PointsAccount.member_id == member_pk)
        .with_for_update()
    )
    amount = expiring_amounts(points.session, cutoff, member_pk).get(member_pk, 0)
    if amount <= 0:
        return 0
    day = cutoff.astimezone(points.tz).date().isoformat()
    result = points.apply(
        member_pk,
        -amount,
        "expire",
        f"expire:{member_pk}:{day}",
        ref=f"earned before {day}",
        operator="system",
        at=now,
        clamp=True,
    )
    return -result.delta if result.applied else 0


def _announce(
    session_factory: sessionmaker[Session], config: PointsConfig, now: datetime, tz: ZoneInfo
) -> int:
    """Tell members, `notice_days` before the next monthly expiry, what will expire."""
    upcoming = next_expiry(now, tz)
    if config.expiry.notice_days == 0 or now < upcoming - timedelta(
        days=config.expiry.notice_days
    ):
        return 0
    cutoff = datetime.combine(add_months(upcoming.date(), -config.expiry.months), time(), tz)
    with transaction(session_factory) as session:
        amounts = expiring_amounts(session, cutoff)
        rows = session.execute(select(Member.id, Member.name).where(Member.id.in_(amounts)))
        names = {int(member_pk): name for member_pk, name in rows}
        sent = 0
        for member_pk, amount in sorted(amounts.items()):
            text = config.texts.render(
                "expiry_notice",
                name=names.get(member_pk) or "你",
                amount=amount,
                date=f"{upcoming.month}月{upcoming.day}日",
                months=config.expiry.months,
            )
            key = f"points-expiry-notice:{member_pk}:{upcoming.date().isoformat()}"
            sent += notify_member(session, member_pk=member_pk, text=text, key=key, now=now)
    return sent


def run(ctx: JobContext) -> ExpiryReport:
    return run_points_expiry(ctx.factory, ctx.clock, ctx.deps.settings)


SPEC = JobSpec(
    id="points.expiry",
    run=run,
    # Shortly after the community's midnight, once the previous day is closed.
    trigger=lambda config, tz: CronTrigger(hour=0, minute=10, timezone=tz),
    description="Expire points older than the configured months; warn members beforehand",
    run_at_start=True,
    misfire_grace_seconds=6 * 3600,
)
