"""Tickets: creation with the SLA, staff notices, reminder and breach (injected clock), the
operator's answer posted once, and the SLA figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.db.models import OutboxRow, Ticket
from app.db.session import transaction
from app.faq.config import FaqConfig, load_faq_config
from app.services.tickets import SlaRun, TicketError, TicketsService
from tests.conftest import SHANGHAI
from tests.points_helpers import race, seed_member

Factory = sessionmaker[Session]


@pytest.fixture
def config() -> FaqConfig:
    base = load_faq_config()
    return replace(base, tickets=replace(base.tickets, staff_user_ids=("staff-a", "staff-b")))


def _open(factory: Factory, config: FaqConfig, clock: FixedClock, text: str = "能开专票吗") -> int:
    member_pk, chat_pk = seed_member(factory, clock.now())
    with transaction(factory) as session:
        ticket = TicketsService(session, config, SHANGHAI).open(
            chat_pk=chat_pk, member_pk=member_pk, text=text, source="mention", now=clock.now()
        )
        return ticket.id


def _outbox(factory: Factory) -> list[OutboxRow]:
    with factory() as session:
        return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all())


def _watch(factory: Factory, config: FaqConfig, clock: FixedClock) -> SlaRun:
    with transaction(factory) as session:
        return TicketsService(session, config, SHANGHAI).watch(clock.now())


def test_a_ticket_is_due_in_24_hours_and_every_staff_member_is_notified(
    session_factory: Factory, config: FaqConfig, clock: FixedClock
) -> None:
    ticket_id = _open(session_factory, config, clock)

    with session_factory() as session:
        ticket = session.get(Ticket, ticket_id)
    rows = _outbox(session_factory)

    assert ticket is not None
    assert ticket.status == "open"
    assert ticket.sla_due == clock.now() + timedelta(hours=24)
    assert [(r.channel, r.target) for r in rows] == [
        ("wecom_app", "staff-a"),
        ("wecom_app", "staff-b"),
    ]
    assert rows[0].text.startswith(f"【新工单 #{ticket_id}】花屿会员群 · 小满：能开专票吗")
    assert "11-24 09:30" in rows[0].text  # the deadline in community time


def test_reminder_before_the_deadline_then_breach_once(
    session_factory: Factory, config: FaqConfig, clock: FixedClock
) -> None:
    ticket_id = _open(session_factory, config, clock)

    clock.advance(hours=21)
    early = _watch(session_factory, config, clock)
    clock.advance(hours=1, minutes=30)  # 1.5 h before the deadline: remind
    reminded = _watch(session_factory, config, clock)
    again = _watch(session_factory, config, clock)
    clock.advance(hours=2)  # past the deadline
    breached = _watch(session_factory, config, clock)
    clock.advance(hours=1)
    later = _watch(session_factory, config, clock)

    assert early == SlaRun(0, 0)
    assert reminded == SlaRun(reminded=1, breached=0)
    assert again == SlaRun(0, 0)
    assert breached == SlaRun(reminded=0, breached=1)
    assert later == SlaRun(0, 0)
    keys = [row.idempotency_key for row in _outbox(session_factory)]
    assert f"ticket:{ticket_id}:remind:staff-a" in keys
    assert f"ticket:{ticket_id}:breach:staff-b" in keys
    assert len(keys) == 6  # notify, remind and breach, to two staff members each


def test_the_answer_is_posted_once_in_the_group_with_the_member_mentioned(
    session_factory: Factory, config: FaqConfig, clock: FixedClock
) -> None:
    ticket_id = _open(session_factory, config, clock)
    clock.advance(hours=3)

    with transaction(session_factory) as session:
        TicketsService(session, config, SHANGHAI).answer(
            ticket_id, "可以，下单时备注税号。", by="小满", now=clock.now()
        )
    with pytest.raises(TicketError, match="already answered"), transaction(session_factory) as s:
        TicketsService(s, config, SHANGHAI).answer(
            ticket_id, "再说一次", by="阿青", now=clock.now()
        )

    posts = [r for r in _outbox(session_factory) if r.channel == "bridge"]
    assert [(p.target, p.mention_ids, p.text) for p in posts] == [
        ("g-001", ["u-001"], "关于你问的「能开专票吗」：可以，下单时备注税号。")
    ]
    assert posts[0].idempotency_key == f"ticket:{ticket_id}:answer"


def test_sla_figures_give_the_median_response_time_and_breaches(
    session_factory: Factory, config: FaqConfig, clock: FixedClock
) -> None:
    start = clock.now()
    ids = [_open(session_factory, config, clock, f"问题{i}") for i in range(3)]
    with transaction(session_factory) as session:
        service = TicketsService(session, config, SHANGHAI)
        service.answer(ids[0], "好的", by="a", now=start + timedelta(hours=1))
        service.answer(ids[1], "好的", by="a", now=start + timedelta(hours=30))  # late
    with session_factory() as session:
        figures = TicketsService(session, config, SHANGHAI).figures(
            now=start + timedelta(hours=48)
        )

    assert (figures.total, figures.open, figures.answered) == (3, 1, 2)
    assert figures.median_response_seconds == 15.5 * 3600
    assert figures.breached == 2  # answered late, and still open after its deadline
    assert figures.answered_within_sla == 1


def test_unknown_ticket_is_not_found(session_factory: Factory, config: FaqConfig) -> None:
    with pytest.raises(TicketError) as error, transaction(session_factory) as session:
        TicketsService(session, config, SHANGHAI).get(999)
    assert error.value.not_found


def test_concurrent_answers_post_exactly_once(
    session_factory: Factory, config: FaqConfig, clock: FixedClock, db_url: str
) -> None:
    ticket_id = _open(session_factory, config, clock)

    def work(session: Session) -> bool:
        try:
            TicketsService(session, config, SHANGHAI).answer(
                ticket_id, "可以开专票。", by="staff", now=clock.now()
            )
        except TicketError:
            return False
        return True

    results = race(db_url, 4, work)

    assert sorted(results) == [False, False, False, True]
    posts = [r for r in _outbox(session_factory) if r.channel == "bridge"]
    assert len(posts) == 1
