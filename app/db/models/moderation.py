"""Moderation tables: rule scopes, imported words, recent activity, cases, appeals, blacklist,
owner tasks.

`moderation_state.version` moves in the same transaction as every change to the stored rules
or words, so each process rebuilds its cached checker (app/moderation/cache.py).
`moderation_cases` is the mod log: one row per judged message that broke a rule, unique by the
message's dedupe key, so a retried message can never open a second case or act twice.
`moderation_activity` keeps the last hours of messages for flood / repeat / spam-wave checks
across processes; the moderation service prunes it by age.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class ModerationState(Base):
    """One row (id 1): the version of the stored rules and words."""

    __tablename__ = "moderation_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class ModerationScope(Base):
    """A stored rule document: "defaults", "profile:<name>" or "group:<chat id>"."""

    __tablename__ = "moderation_scopes"

    scope: Mapped[str] = mapped_column(String(160), primary_key=True)
    document: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(64))


class ModerationTerm(Base):
    """An imported banned word; `key` is its normalised (compact) form, unique."""

    __tablename__ = "moderation_terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(191), unique=True)
    term: Mapped[str] = mapped_column(String(191))
    category: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]


class ModerationActivity(Base):
    """A recent group message (its similarity key): the history activity rules look at."""

    __tablename__ = "moderation_activity"
    __table_args__ = (
        Index("ix_moderation_activity_chat_member_at", "chat_id", "member_id", "at"),
        Index("ix_moderation_activity_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_key: Mapped[str] = mapped_column(String(255), unique=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    text_key: Mapped[str] = mapped_column(String(500))
    key_length: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


class ModerationCase(Base):
    """One violation (a mod-log case): what was said, which rule, what was done, review state.

    `status`: open → confirmed | overturned (overturning reverses the case's penalties).
    `start`/`end` index `text` (the original); (0, 0) for whole-message rules such as flood.
    """

    __tablename__ = "moderation_cases"
    __table_args__ = (
        Index("ix_moderation_cases_member_ladder_at", "member_id", "ladder", "created_at"),
        Index("ix_moderation_cases_chat_at", "chat_id", "created_at"),
        Index("ix_moderation_cases_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_key: Mapped[str] = mapped_column(String(255), unique=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    normalized: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(16))
    ladder: Mapped[str] = mapped_column(String(64), default="")
    start: Mapped[int] = mapped_column(Integer, default=0)
    end: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[str] = mapped_column(Text, default="")
    hits: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    step: Mapped[int | None] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer, default=1)
    points_deducted: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime]
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    review_note: Mapped[str | None] = mapped_column(Text)


class ModerationAppeal(Base):
    """A member's 申诉 against a case; at most one per case. status: open, accepted, rejected."""

    __tablename__ = "moderation_appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("moderation_cases.id"), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolution: Mapped[str | None] = mapped_column(Text)


class ModerationBlacklist(Base):
    """A blacklisted member (every group); lifted entries stay as history."""

    __tablename__ = "moderation_blacklist"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("moderation_cases.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(64))
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(64))


class ModerationTask(Base):
    """Work for a human: remove a member where the channel cannot. open → done | cancelled."""

    __tablename__ = "moderation_tasks"
    __table_args__ = (UniqueConstraint("case_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("moderation_cases.id"))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(32), default="remove_member")
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
