"""Weekly report (周报): a digest of the past week to the admins' group.

Runs in the scheduler process at the configured day and time (Friday 17:00 by default) and once
at start, so a report whose time passed while the scheduler was down is still sent within
`report.grace_hours`. It reads: scheduled-post deliveries (sent / failed / missed / awaiting
staff confirmation), member joins and leaves, and — when those features' tables exist — check-ins,
violations, FAQ answers and open tickets (configured in config/scheduler.toml, looked up in the
model metadata so this job never depends on another feature's code). It writes one outbox row,
keyed by the report's date, so two schedulers or a rerun send it once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Column, ColumnElement, Date, DateTime, Table, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db.models import Base, MemberEvent, OutboxRow, PostDelivery
from app.jobs.posts import post_to_admins
from app.jobs.registry import JobContext, JobSpec, ReportConfig, ReportSource
from app.services.calendar import combine

log = logging.getLogger(__name__)
WEEK = timedelta(days=7)
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CHUNK = 500


@dataclass
class WeeklyStats:
    start: datetime
    end: datetime
    deliveries: Counter[str] = field(default_factory=Counter)
    joined: int = 0
    left: int = 0
    extra: list[str] = field(default_factory=list)  # rendered optional lines


def report_time_before(now: datetime, report: ReportConfig, tz: tzinfo) -> datetime:
    """The latest scheduled report time at or before `now`."""
    local = now.astimezone(tz)
    wanted = DAY_NAMES.index(report.day_of_week)
    day = local.date() - timedelta(days=(local.weekday() - wanted) % 7)
    at = datetime(day.year, day.month, day.day, report.hour, report.minute, tzinfo=tz)
    return at if at <= local else at - WEEK


def send_weekly_report(ctx: JobContext) -> bool:
    """Queue this week's report unless it is too late for it; True if a row was written."""
    report = ctx.config.report
    if not report.enabled:
        return False
    now = ctx.now()
    end = report_time_before(now, report, ctx.tz)
    if now - end > timedelta(hours=report.grace_hours):
        log.info("weekly report skipped: too late", extra={"due": end.isoformat()})
        return False
    with ctx.factory() as session, session.begin():
        stats = collect(session, end - WEEK, end, report.sources, ctx.tz)
        text = render_report(stats, ctx)
        key = f"report:weekly:{end.astimezone(ctx.tz).date().isoformat()}"
        written = post_to_admins(session, ctx, key=key, text=text)
    if written:
        ctx.on_enqueued()
    return written


def collect(
    session: Session, start: datetime, end: datetime, sources: Sequence[ReportSource], tz: tzinfo
) -> WeeklyStats:
    """Count the week [start, end)."""
    stats = WeeklyStats(start, end)
    stats.deliveries = _delivery_counts(session, start, end)
    kinds = {
        kind: int(n)
        for kind, n in session.execute(
            select(MemberEvent.kind, func.count())
            .where(MemberEvent.at >= start, MemberEvent.at < end)
            .group_by(MemberEvent.kind)
        ).all()
    }
    stats.joined, stats.left = int(kinds.get("join", 0)), int(kinds.get("leave", 0))
    for source in sources:
        count = count_source(session, source, start, end, tz)
        if count is not None:
            stats.extra.append(source.line.format(count=count))
    return stats


def _delivery_counts(session: Session, start: datetime, end: datetime) -> Counter[str]:
    deliveries = session.scalars(
        select(PostDelivery.keys).where(PostDelivery.due_at >= start, PostDelivery.due_at < end)
    ).all()
    keys = [key for keys in deliveries for key in keys]
    statuses: dict[str, str] = {}
    for offset in range(0, len(keys), _CHUNK):
        for key, status in session.execute(
            select(OutboxRow.idempotency_key, OutboxRow.status).where(
                OutboxRow.idempotency_key.in_(keys[offset : offset + _CHUNK])
            )
        ).all():
            statuses[key] = status
    return Counter(combine(statuses[k] for k in keys if k in statuses) for keys in deliveries)


def count_source(
    session: Session, source: ReportSource, start: datetime, end: datetime, tz: tzinfo
) -> int | None:
    """Rows of another feature's table in the week; None when that table is not installed."""
    table = next(
        (Base.metadata.tables[t] for t in source.tables if t in Base.metadata.tables), None
    )
    if table is None:
        return None
    stmt = select(func.count()).select_from(table)
    if source.time_columns:
        column = _first_column(table, source.time_columns)
        if column is None:
            return None
        stmt = stmt.where(*_window(column, start, end, tz))
    if source.status_column:
        if source.status_column not in table.c:
            return None
        stmt = stmt.where(table.c[source.status_column].in_(source.statuses))
    try:
        with session.begin_nested():
            return int(session.scalar(stmt) or 0)
    except SQLAlchemyError:
        log.warning("report source unavailable", extra={"table": table.name})
        return None


def _first_column(table: Table, names: Sequence[str]) -> Column[object] | None:
    return next((table.c[name] for name in names if name in table.c), None)


def _window(
    column: Column[object], start: datetime, end: datetime, tz: tzinfo
) -> list[ColumnElement[bool]]:
    if isinstance(column.type, Date) and not isinstance(column.type, DateTime):
        first: date = start.astimezone(tz).date()
        last: date = end.astimezone(tz).date()
        return [column >= first, column < last]
    return [column >= start, column < end]


def render_report(stats: WeeklyStats, ctx: JobContext) -> str:
    """The zh-CN digest (texts from config/scheduler.toml)."""
    texts = ctx.config.texts
    last_day = (stats.end - timedelta(seconds=1)).astimezone(ctx.tz)
    first_day = stats.start.astimezone(ctx.tz)
    counts = stats.deliveries
    lines = [
        texts.report_title.format(
            start=f"{first_day.month}月{first_day.day}日",
            end=f"{last_day.month}月{last_day.day}日",
        ),
        texts.report_posts.format(
            sent=counts["sent"],
            failed=counts["dead"] + counts["failed"],
            missed=counts["missed"],
            awaiting=counts["awaiting_confirmation"],
        ),
        texts.report_members.format(joined=stats.joined, left=stats.left),
        *stats.extra,
        texts.report_footer,
    ]
    return "\n".join(line for line in lines if line).strip()


SPEC = JobSpec(
    id="reports.weekly",
    run=send_weekly_report,
    trigger=lambda config, tz: CronTrigger(
        day_of_week=config.report.day_of_week,
        hour=config.report.hour,
        minute=config.report.minute,
        timezone=tz,
    ),
    description="Weekly report to the admins' group",
    run_at_start=True,
    misfire_grace_seconds=3600,
)
