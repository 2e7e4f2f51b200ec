"""The ticket SLA job: registered, remind then breach with an injected clock, idempotent."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import OutboxRow, Ticket
from app.db.session import transaction
from app.faq.config import load_faq_config
from app.jobs import ALL_JOBS, faq_tickets
from app.jobs.faq_tickets import run_ticket_sla
from app.services.tickets import SlaRun, TicketsService
from app.settings import Settings
from tests.conftest import SHANGHAI
from tests.points_helpers import seed_member

CONFIG = load_faq_config()
STAFF = replace(CONFIG, tickets=replace(CONFIG.tickets, staff_user_ids=("ops",)))


def test_the_job_is_registered_with_a_trigger() -> None:
    assert faq_tickets.SPEC in ALL_JOBS
    trigger = faq_tickets.SPEC.trigger(None, SHANGHAI)  # type: ignore[arg-type]
    assert (
        trigger.get_next_fire_time(None, datetime(2026, 11, 23, 12, tzinfo=SHANGHAI)) is not None
    )


def test_remind_then_breach_once(
    session_factory: sessionmaker[Session], clock: FixedClock, settings: Settings
) -> None:
    member_pk, chat_pk = seed_member(session_factory, clock.now())
    with transaction(session_factory) as session:
        ticket = TicketsService(session, STAFF, SHANGHAI).open(
            chat_pk=chat_pk,
            member_pk=member_pk,
            text="能送到外地吗",
            source="handoff",
            now=clock.now(),
        )

    clock.advance(hours=23)
    reminded = run_ticket_sla(session_factory, clock, settings, STAFF)
    clock.advance(hours=2)
    breached = run_ticket_sla(session_factory, clock, settings, STAFF)
    repeated = run_ticket_sla(session_factory, clock, settings, STAFF)

    assert (reminded, breached, repeated) == (SlaRun(1, 0), SlaRun(0, 1), SlaRun(0, 0))
    with session_factory() as session:
        stored = session.get(Ticket, ticket.id)
        kinds = session.scalars(select(OutboxRow.idempotency_key).order_by(OutboxRow.id)).all()
    assert stored is not None
    assert stored.breached
    assert stored.reminded_at is not None
    assert list(kinds) == [f"ticket:{ticket.id}:{k}:ops" for k in ("notify", "remind", "breach")]
