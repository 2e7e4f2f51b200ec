"""Content calendar tables: scheduled posts, their history, occurrences, deliveries, campaigns.

Written by the admin API/CLI (posts, revisions), `CampaignAnnouncements.sync` (campaigns and
their announcement posts) and the scheduler's enqueue job (occurrences, deliveries). Exactly-once
delivery rests on three unique keys: one occurrence per (post, due time), one delivery per
(occurrence, chat) and one outbox row per idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class Post(Base):
    """A scheduled post: content, targets (chats and tags), a schedule and a review status.

    Statuses: draft → submitted → scheduled (approved), paused, cancelled, done. `next_due_at`
    is the scheduler's cursor: the next fire time not yet turned into an occurrence.
    """

    __tablename__ = "posts"
    __table_args__ = (Index("ix_posts_due", "status", "next_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str | None] = mapped_column(String(128))
    content_type: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]]
    # {"chat_pks": [chats.id, ...], "tags": ["会员", ...]}; tags are resolved when enqueued.
    targets: Mapped[dict[str, Any]]
    # {"kind": "once"|"cron"|"rrule", "at"|"cron"|"rrule": ..., "start", "until", "days"}
    schedule: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # "admin" for the content calendar, "campaign:<key>" for campaign announcements.
    source: Mapped[str] = mapped_column(String(80), default="admin")
    version: Mapped[int] = mapped_column(default=1)
    next_due_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    approved_at: Mapped[datetime | None]


class PostRevision(Base):
    """One entry of a post's history: what was done, by whom, and the post as it was after."""

    __tablename__ = "post_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    version: Mapped[int]
    action: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str | None] = mapped_column(String(64))
    snapshot: Mapped[dict[str, Any]]
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class PostOccurrence(Base):
    """One fire time of a post that the scheduler has handled: enqueued or missed."""

    __tablename__ = "post_occurrences"
    __table_args__ = (UniqueConstraint("post_id", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16))  # "enqueued" | "missed"
    created_at: Mapped[datetime]


class PostDelivery(Base):
    """An occurrence for one chat; its status is read from the outbox rows named in `keys`."""

    __tablename__ = "post_deliveries"
    __table_args__ = (UniqueConstraint("occurrence_id", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("post_occurrences.id"))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime] = mapped_column(index=True)


class Campaign(Base):
    """A campaign known to the calendar (check-in, flash sale, ...) and its time window."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CampaignAnnouncement(Base):
    """A campaign's announcement template (anchor + offset) and the post that carries it."""

    __tablename__ = "campaign_announcements"
    __table_args__ = (UniqueConstraint("campaign_id", "template_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    template_key: Mapped[str] = mapped_column(String(64))
    anchor: Mapped[str] = mapped_column(String(8))  # "start" | "end"
    offset_seconds: Mapped[int]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
