"""Tickets: questions handed to staff, with an SLA (24 hours by default).

Runs inside a caller's transaction and never commits: the FAQ and 转人工 handlers open tickets,
the admin API assigns, answers and closes them, the SLA job reminds and marks breaches. Every
message goes through the outbox with a key derived from the ticket, so it is queued once:
staff notifications (`wecom_app` app messages to the configured staff userids), reminders,
breach alerts, and the operator's answer posted in the member's group with an @-mention.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Chat, Member, Ticket
from app.faq.config import FaqConfig
from app.messages import ChatRef, Outgoing, Platform
from app.outbox import OutboxDraft, enqueue
from app.routing import draft_for

STATUSES = ("open", "answered", "closed")
STAFF_CHANNEL = "wecom_app"


class TicketError(ValueError):
    """A ticket action that does not apply (unknown ticket, already answered or closed)."""

    def __init__(self, reason: str, *, not_found: bool = False) -> None:
        super().__init__(reason)
        self.not_found = not_found


@dataclass(frozen=True, slots=True)
class SlaFigures:
    """Ticket counts and response times over a period (all tickets when `since` is None)."""

    total: int
    open: int
    answered: int
    closed: int
    breached: int
    open_overdue: int
    median_response_seconds: float | None
    answered_within_sla: int


@dataclass(frozen=True, slots=True)
class SlaRun:
    """What one pass of the SLA job did."""

    reminded: int = 0
    breached: int = 0


class TicketsService:
    """Open, answer, assign, close and watch tickets in one transaction."""

    def __init__(self, session: Session, config: FaqConfig, tz: ZoneInfo) -> None:
        self.session = session
        self._config = config
        self._tz = tz

    def open(
        self, *, chat_pk: int, member_pk: int, text: str, source: str, now: datetime
    ) -> Ticket:
        """A new open ticket due in `ticket_sla_hours`; staff are notified."""
        hours = self._config.answering.ticket_sla_hours
        ticket = Ticket(
            chat_id=chat_pk,
            member_id=member_pk,
            text=text.strip()[:2000],
            source=source,
            status="open",
            created_at=now,
            sla_due=now + timedelta(hours=hours),
            breached=False,
        )
        self.session.add(ticket)
        self.session.flush()
        self._notify_staff(ticket, self._config.tickets.notify_text, "notify", now)
        return ticket

    def get(self, ticket_id: int) -> Ticket:
        """The ticket, or `TicketError(not_found=True)`."""
        ticket = self.session.get(Ticket, ticket_id)
        if ticket is None:
            raise TicketError(f"no ticket {ticket_id}", not_found=True)
        return ticket

    def find(
        self, *, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Ticket]:
        """Tickets, newest first, optionally of one status."""
        stmt = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc())
        if status is not None:
            stmt = stmt.where(Ticket.status == status)
        return list(self.session.scalars(stmt.limit(limit).offset(offset)).all())

    def assign(self, ticket_id: int, assignee: str) -> Ticket:
        """Give the ticket to a staff member (any time before it is closed)."""
        ticket = self.get(ticket_id)
        if ticket.status == "closed":
            raise TicketError(f"ticket {ticket_id} is closed")
        ticket.assignee = assignee
        return ticket

    def answer(self, ticket_id: int, answer: str, *, by: str, now: datetime) -> Ticket:
        """Record the answer and post it in the group, @-mentioning the member (once)."""
        ticket = self._locked(ticket_id)
        if ticket.status != "open":
            raise TicketError(f"ticket {ticket_id} is already {ticket.status}")
        ticket.status = "answered"
        ticket.answer = answer.strip()
        ticket.answered_by = by
        ticket.answered_at = now
        ticket.assignee = ticket.assignee or by
        self._post_answer(ticket, now)
        return ticket

    def close(self, ticket_id: int, *, now: datetime) -> Ticket:
        """Close without posting anything (spam, solved elsewhere)."""
        ticket = self._locked(ticket_id)
        if ticket.status == "closed":
            raise TicketError(f"ticket {ticket_id} is already closed")
        ticket.status = "closed"
        ticket.closed_at = now
        return ticket

    def watch(self, now: datetime) -> SlaRun:
        """Remind staff before the SLA runs out and mark (and announce) breaches."""
        before = timedelta(hours=self._config.tickets.remind_before_hours)
        due_soon = self.session.scalars(
            select(Ticket)
            .where(Ticket.status == "open", Ticket.reminded_at.is_(None))
            .where(Ticket.sla_due <= now + before, Ticket.sla_due > now)
            .with_for_update(skip_locked=True)
        ).all()
        for ticket in due_soon:
            ticket.reminded_at = now
            self._notify_staff(ticket, self._config.tickets.remind_text, "remind", now)
        overdue = self.session.scalars(
            select(Ticket)
            .where(Ticket.status == "open", Ticket.breached.is_(False), Ticket.sla_due <= now)
            .with_for_update(skip_locked=True)
        ).all()
        for ticket in overdue:
            ticket.breached = True
            ticket.breached_at = now
            self._notify_staff(ticket, self._config.tickets.breach_text, "breach", now)
        return SlaRun(reminded=len(due_soon), breached=len(overdue))

    def figures(self, *, now: datetime, since: datetime | None = None) -> SlaFigures:
        """Counts, breaches and the median first-response time of answered tickets."""
        stmt = select(Ticket)
        if since is not None:
            stmt = stmt.where(Ticket.created_at >= since)
        tickets = self.session.scalars(stmt).all()
        answered = [t for t in tickets if t.answered_at is not None]
        waits = [(t.answered_at - t.created_at).total_seconds() for t in answered if t.answered_at]
        return SlaFigures(
            total=len(tickets),
            open=sum(1 for t in tickets if t.status == "open"),
            answered=len(answered),
            closed=sum(1 for t in tickets if t.status == "closed"),
            breached=sum(1 for t in tickets if _breached(t, now)),
            open_overdue=sum(1 for t in tickets if t.status == "open" and t.sla_due <= now),
            median_response_seconds=statistics.median(waits) if waits else None,
            answered_within_sla=sum(
                1 for t in answered if t.answered_at is not None and t.answered_at <= t.sla_due
            ),
        )

    def count_open(self) -> int:
        """Open tickets right now."""
        return int(
            self.session.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.status == "open")
            )
            or 0
        )

    # -- messages --------------------------------------------------------------------------
    def _locked(self, ticket_id: int) -> Ticket:
        ticket = self.session.scalar(
            select(Ticket).where(Ticket.id == ticket_id).with_for_update()
        )
        if ticket is None:
            raise TicketError(f"no ticket {ticket_id}", not_found=True)
        return ticket

    def _post_answer(self, ticket: Ticket, now: datetime) -> None:
        chat = self.session.get(Chat, ticket.chat_id)
        member = self.session.get(Member, ticket.member_id)
        assert chat is not None
        assert member is not None
        text = self._config.tickets.answer_text.format(
            question=ticket.text, answer=ticket.answer or ""
        )
        ref = ChatRef(Platform(chat.platform), chat.external_id, chat.is_group, chat.name)
        outgoing = Outgoing(ref, text, (member.external_id,))
        drafts = draft_for(outgoing, key=f"ticket:{ticket.id}:answer", chat_pk=chat.id, now=now)
        enqueue(self.session, drafts, now=now)

    def _notify_staff(self, ticket: Ticket, template: str, kind: str, now: datetime) -> None:
        staff = self._config.tickets.staff_user_ids
        if not staff:
            return
        text = template.format_map(self._fields(ticket))
        drafts: Sequence[OutboxDraft] = [
            OutboxDraft(
                key=f"ticket:{ticket.id}:{kind}:{user}",
                channel=STAFF_CHANNEL,
                target=user,
                text=text,
            )
            for user in staff
        ]
        enqueue(self.session, drafts, now=now)

    def _fields(self, ticket: Ticket) -> dict[str, object]:
        chat = self.session.get(Chat, ticket.chat_id)
        member = self.session.get(Member, ticket.member_id)
        due = ticket.sla_due.astimezone(self._tz).strftime("%m-%d %H:%M")
        return {
            "id": ticket.id,
            "group": (chat.name or chat.external_id) if chat else "?",
            "member": (member.name or member.external_id) if member else "?",
            "text": ticket.text,
            "due": due,
        }


def _breached(ticket: Ticket, now: datetime) -> bool:
    if ticket.breached:
        return True
    if ticket.answered_at is not None:
        return ticket.answered_at > ticket.sla_due
    return ticket.status == "open" and ticket.sla_due <= now
