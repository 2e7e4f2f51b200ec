"""FAQ tables: knowledge-base entries, the KB version counter, answer and miss logs, tickets.

Written by the FAQ service (admin API, `qunyun faq import`, the demo seeder) and by the FAQ and
转人工 handlers inside the inbox worker's transaction; the ticket SLA job updates tickets.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class FaqEntry(Base):
    """One knowledge-base entry. `external_id` is the operator's id (the CSV `id`).

    Scope: an entry answers in every group unless `scope_chats` (chats.id) or `scope_tags`
    (chat tags) name some; then only in those. Disabled or out-of-date entries never answer.
    """

    __tablename__ = "faq_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    question: Mapped[str] = mapped_column(Text)
    similar_questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope_chats: Mapped[list[int]] = mapped_column(JSON, default=list)
    scope_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FaqState(Base):
    """A single row (id 1): `kb_version` moves on every KB change, in the same transaction.

    Every process compares it with the version of its in-memory index before matching (one
    primary-key read) and rebuilds when it moved, so API or CLI edits reach every worker.
    """

    __tablename__ = "faq_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    kb_version: Mapped[int] = mapped_column(default=0)


class FaqHit(Base):
    """The bot answered (`kind` "answer") or pointed back to an earlier answer ("cooldown")."""

    __tablename__ = "faq_hits"
    __table_args__ = (Index("ix_faq_hits_chat_entry_at", "chat_id", "entry_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("faq_entries.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16), default="answer")
    text: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(index=True)


class FaqMiss(Base):
    """A question the bot did not answer from the KB (for the unanswered rate and top lists)."""

    __tablename__ = "faq_misses"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    text: Mapped[str] = mapped_column(Text)
    normalized: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    mentioned: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(index=True)


class Ticket(Base):
    """A member's question handed to staff, to be answered before `sla_due`.

    Status: open → answered (the answer is posted in the group, @-mentioning the member) or
    closed (by an operator, without a post). `reminded_at` and `breached` are set by the SLA job.
    """

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_status_sla_due", "status", "sla_due"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # "mention" | "handoff"
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee: Mapped[str | None] = mapped_column(String(64))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    faq_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("faq_entries.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    sla_due: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    breached: Mapped[bool] = mapped_column(default=False)
    breached_at: Mapped[datetime | None]
