"""Ticket SLA watch: remind staff before a ticket's SLA runs out, then mark breaches.

Runs every few minutes in the scheduler process (and once at start, to catch up). One
transaction per pass: open tickets due within `remind_before_hours` get one reminder
(`reminded_at`), open tickets past `sla_due` are marked `breached` and announced once. Staff
messages go through the outbox with keys per ticket and kind, so a second scheduler or a
retried pass never sends twice.
"""

from __future__ import annotations

import logging

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.db.session import transaction
from app.faq.config import FaqConfig, load_faq_config
from app.jobs.registry import JobContext, JobSpec
from app.services.tickets import SlaRun, TicketsService
from app.settings import Settings

log = logging.getLogger(__name__)
INTERVAL_MINUTES = 5


def run_ticket_sla(
    session_factory: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    config: FaqConfig | None = None,
) -> SlaRun:
    """Send due reminders and mark breaches; safe to run any number of times."""
    config = config or load_faq_config()
    with transaction(session_factory) as session:
        result = TicketsService(session, config, settings.tz).watch(clock.now())
    log.info("ticket sla", extra={"job": SPEC.id, "result": repr(result)})
    return result


def _run(ctx: JobContext) -> SlaRun:
    result = run_ticket_sla(ctx.factory, ctx.clock, ctx.deps.settings)
    if result.reminded or result.breached:
        ctx.on_enqueued()
    return result


SPEC = JobSpec(
    id="faq.ticket_sla",
    run=_run,
    trigger=lambda config, tz: IntervalTrigger(minutes=INTERVAL_MINUTES, timezone=tz),
    description="Remind staff of tickets near their SLA and mark breached tickets",
    run_at_start=True,
    misfire_grace_seconds=600,
)
