"""Admin: tickets (questions handed to staff) and their SLA figures.

Operators list tickets, assign them, answer them — the bot then posts the answer in the
member's group with an @-mention, exactly once (the outbox key is the ticket's), and can add the
question and answer to the knowledge base — or close them without a post. Each request is one
transaction; answering twice is a 409 and posts nothing more.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.deps import RuntimeDep
from app.api.v1.schemas import iso
from app.db.models import Chat, FaqEntry, Member, Ticket
from app.db.session import transaction
from app.runtime import Runtime
from app.services.faq import EntryInput, FaqInputError, FaqService, snapshot_loader
from app.services.tickets import TicketError, TicketsService

router = APIRouter(prefix="/tickets", tags=["tickets"])
Name = Annotated[str, Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignIn(_Strict):
    assignee: Name


class AnswerIn(_Strict):
    answer: Annotated[str, Field(min_length=1, max_length=4000)]
    by: Name
    add_to_kb: bool = False
    # With add_to_kb: the new entry's id (default T<ticket id>) and question (default the
    # member's text).
    entry_id: Annotated[str | None, Field(min_length=1, max_length=64, pattern=r"^[^\s|,]+$")] = (
        None
    )
    question: Annotated[str | None, Field(min_length=1, max_length=500)] = None


class CloseIn(_Strict):
    by: Name | None = None


def _tickets(session: Session, runtime: Runtime) -> TicketsService:
    return TicketsService(session, runtime.deps.faq.config, runtime.settings.tz)


def _out(session: Session, ticket: Ticket, runtime: Runtime) -> dict[str, Any]:
    chat = session.get(Chat, ticket.chat_id)
    member = session.get(Member, ticket.member_id)
    tz = runtime.settings.tz
    return {
        "id": ticket.id,
        "chat_id": chat.external_id if chat else None,
        "platform": chat.platform if chat else None,
        "group": chat.name if chat else None,
        "user_id": member.external_id if member else None,
        "member": member.name if member else None,
        "text": ticket.text,
        "source": ticket.source,
        "status": ticket.status,
        "assignee": ticket.assignee,
        "answer": ticket.answer,
        "answered_by": ticket.answered_by,
        "created_at": iso(ticket.created_at, tz),
        "sla_due": iso(ticket.sla_due, tz),
        "answered_at": iso(ticket.answered_at, tz),
        "reminded_at": iso(ticket.reminded_at, tz),
        "breached": ticket.breached,
        "faq_entry_id": _entry_external_id(session, ticket.faq_entry_id),
    }


def _entry_external_id(session: Session, pk: int | None) -> str | None:
    if pk is None:
        return None
    return session.scalar(select(FaqEntry.external_id).where(FaqEntry.id == pk))


def _act(runtime: Runtime, work: Any) -> dict[str, Any]:
    try:
        with transaction(runtime.deps.session_factory) as session:
            result: dict[str, Any] = work(session)
    except TicketError as error:
        raise HTTPException(404 if error.not_found else 409, detail=str(error)) from None
    except FaqInputError as error:
        raise HTTPException(409, detail=str(error)) from None
    return result


@router.get("")
def list_tickets(
    runtime: RuntimeDep,
    status: Literal["open", "answered", "closed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Tickets, newest first."""
    with transaction(runtime.deps.session_factory) as session:
        rows = _tickets(session, runtime).find(status=status, limit=limit, offset=offset)
        return {"items": [_out(session, t, runtime) for t in rows]}


@router.get("/sla")
def sla(
    runtime: RuntimeDep, days: Annotated[int | None, Query(ge=1, le=366)] = None
) -> dict[str, Any]:
    """Counts, breaches and the median first-response time (all time, or the last `days`)."""
    now = runtime.deps.clock.now()
    since = now - timedelta(days=days) if days else None
    with transaction(runtime.deps.session_factory) as session:
        figures = _tickets(session, runtime).figures(now=now, since=since)
    median = figures.median_response_seconds
    return {
        "since": iso(since, runtime.settings.tz),
        "total": figures.total,
        "open": figures.open,
        "answered": figures.answered,
        "closed": figures.closed,
        "breached": figures.breached,
        "open_overdue": figures.open_overdue,
        "answered_within_sla": figures.answered_within_sla,
        "median_response_seconds": None if median is None else round(median, 1),
        "sla_hours": runtime.deps.faq.config.answering.ticket_sla_hours,
    }


@router.get("/{ticket_id}")
def get_ticket(ticket_id: int, runtime: RuntimeDep) -> dict[str, Any]:
    return _act(runtime, lambda s: _out(s, _tickets(s, runtime).get(ticket_id), runtime))


@router.post("/{ticket_id}/assign")
def assign(ticket_id: int, body: AssignIn, runtime: RuntimeDep) -> dict[str, Any]:
    return _act(
        runtime, lambda s: _out(s, _tickets(s, runtime).assign(ticket_id, body.assignee), runtime)
    )


@router.post("/{ticket_id}/close")
def close(ticket_id: int, body: CloseIn, runtime: RuntimeDep) -> dict[str, Any]:
    now = runtime.deps.clock.now()
    return _act(
        runtime, lambda s: _out(s, _tickets(s, runtime).close(ticket_id, now=now), runtime)
    )


@router.post("/{ticket_id}/answer")
def answer(ticket_id: int, body: AnswerIn, runtime: RuntimeDep) -> dict[str, Any]:
    """Post the answer in the group (@member, once); optionally add it to the KB."""
    now = runtime.deps.clock.now()

    def work(session: Session) -> dict[str, Any]:
        ticket = _tickets(session, runtime).answer(ticket_id, body.answer, by=body.by, now=now)
        if body.add_to_kb:
            faq = FaqService(
                session, runtime.deps.faq, snapshot_loader(runtime.deps.session_factory)
            )
            entry = faq.create(
                EntryInput(
                    external_id=body.entry_id or f"T{ticket.id}",
                    question=body.question or ticket.text,
                    answer=body.answer,
                ),
                now=now,
            )
            ticket.faq_entry_id = entry.id
        return _out(session, ticket, runtime)

    result = _act(runtime, work)
    runtime.outbox.wake()
    if body.add_to_kb:
        with transaction(runtime.deps.session_factory) as session:
            FaqService(
                session, runtime.deps.faq, snapshot_loader(runtime.deps.session_factory)
            ).refresh()
    return result
