"""Foundation tables: chats, members and their history, the inbox, replay keys, the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class Chat(Base):
    """A group (or a 1:1 conversation) on one platform; known from its first message."""

    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(128))
    is_group: Mapped[bool] = mapped_column(default=True)
    # A rule/points profile such as "core", "active", "prospect"; None = defaults.
    profile: Mapped[str | None] = mapped_column(String(32))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Name of a configured WeCom group robot that can post into this chat, if any.
    robot: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Member(Base):
    """A person on one platform (a bridge user id or a WeCom userid / external_userid)."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16), default="member")
    first_seen_at: Mapped[datetime]
    last_active_at: Mapped[datetime]


class ChatMember(Base):
    """A member's presence in one chat: when they joined, left, and were last active there."""

    __tablename__ = "chat_members"
    __table_args__ = (UniqueConstraint("chat_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    first_seen_at: Mapped[datetime]
    last_active_at: Mapped[datetime]
    joined_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]
    message_count: Mapped[int] = mapped_column(Integer, default=0)


class MemberEvent(Base):
    """Join/leave history, one row per member per event."""

    __tablename__ = "member_events"
    __table_args__ = (UniqueConstraint("source_key", "member_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "join" | "leave"
    at: Mapped[datetime]
    source_key: Mapped[str] = mapped_column(String(255))


class InboxRow(Base):
    """A callback stored before it was acknowledged; processed once by the inbox worker."""

    __tablename__ = "inbox"
    # The worker claims the oldest pending rows: this index holds only those, in id order, so
    # a claim reads its batch and stops, however long the backlog or the processed history.
    __table_args__ = (
        Index(
            "ix_inbox_pending",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    platform: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class ProcessedKey(Base):
    """Replay guard: a signed request's nonce (or another one-shot key) and its fingerprint."""

    __tablename__ = "processed_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(index=True)


class OutboxRow(Base):
    """One message (or action) to send, written in the same transaction as the state change.

    Statuses: queued → sending → sent; on failure back to `failed` with a backoff, then `dead`
    after the last attempt. Scheduled posts also use `missed` and `awaiting_confirmation`.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    mention_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    extras: Mapped[dict[str, Any]] = mapped_column(default=dict)
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id"), index=True)
    rate_bucket: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(24), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class RateEvent(Base):
    """One send counted against a rate bucket (e.g. a group robot's 20-a-minute limit)."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_bucket_at", "bucket", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
