"""Chats and members: who is where, first seen, last active, join/leave history.

Creates or refreshes `chats`, `members`, `chat_members` and appends `member_events`, inside
the caller's transaction. The inbox worker records a whole batch's presence through
app/services/presence.py (a few statements per batch, built on these upserts); join/leave
history and single calls (seeding, tests) use this service directly. Each step is one cached
upsert statement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from app.db.models import Chat, ChatMember, Member, MemberEvent
from app.db.upsert import cached_statement, dialect_insert, insert_ignore, insert_rows
from app.messages import ChatRef, Role

MEMBERS = cast(Table, Member.__table__)
CHAT_MEMBERS = cast(Table, ChatMember.__table__)


def _chat_upsert(dialect: str) -> Any:
    insert = dialect_insert(dialect)(Chat)
    name = func.coalesce(insert.excluded.name, Chat.name)
    return insert.on_conflict_do_update(
        index_elements=["platform", "external_id"], set_={"name": name}
    ).returning(Chat.id)


def _member_upsert(dialect: str, *, with_role: bool) -> Any:
    return finish_member_upsert(dialect, dialect_insert(dialect)(MEMBERS), with_role=with_role)


def finish_member_upsert(dialect: str, insert: Any, *, with_role: bool) -> Any:
    """ON CONFLICT for members: latest activity, a name only when one is given, the role
    when the channel says it."""
    latest = func.max if dialect == "sqlite" else func.greatest
    changes: dict[str, Any] = {
        "last_active_at": latest(Member.last_active_at, insert.excluded.last_active_at),
        "name": func.coalesce(insert.excluded.name, Member.name),
    }
    if with_role:
        changes["role"] = insert.excluded.role
    return insert.on_conflict_do_update(
        index_elements=["platform", "external_id"], set_=changes
    ).returning(Member.id)


def add_presence(_dialect: str, insert: Any) -> Any:
    """ON CONFLICT for chat members: latest activity, and the row's messages added."""
    changes = {
        "last_active_at": insert.excluded.last_active_at,
        "message_count": ChatMember.message_count + insert.excluded.message_count,
    }
    return insert.on_conflict_do_update(index_elements=["chat_id", "member_id"], set_=changes)


class MembersService:
    def __init__(self, session: Session) -> None:
        self._session = session

    def ensure_chat(self, chat: ChatRef, *, now: datetime) -> int:
        """Return chats.id, creating the chat when its first message arrives.

        A plain read first: an upsert would lock the group's row on every message and so
        serialise all of a busy group's messages (a flash-sale start) on PostgreSQL.
        """
        known = self._session.execute(
            select(Chat.id, Chat.name).where(
                Chat.platform == str(chat.platform), Chat.external_id == chat.chat_id
            )
        ).first()
        if known is not None and (chat.name is None or chat.name == known.name):
            return int(known.id)
        return self.upsert_chat(chat, now=now)

    def upsert_chat(self, chat: ChatRef, *, now: datetime) -> int:
        """Create the chat, or store its new name; returns chats.id."""
        stmt = cached_statement(self._session, "chat-upsert", _chat_upsert)
        row: dict[str, Any] = {
            "platform": str(chat.platform),
            "external_id": chat.chat_id,
            "name": chat.name,
            "is_group": chat.is_group,
            "tags": [],
            "created_at": now,
        }
        return int(self._session.scalar(stmt, row))

    def ensure_member(
        self, platform: str, user_id: str, *, name: str | None, role: Role | None, now: datetime
    ) -> int:
        """Return members.id; refreshes last_active_at, and name and role when known."""
        stmt = cached_statement(
            self._session,
            ("member-upsert", role is not None),
            lambda dialect: _member_upsert(dialect, with_role=role is not None),
        )
        row = {
            "platform": platform,
            "external_id": user_id,
            "name": name,
            "role": str(role or Role.MEMBER),
            "first_seen_at": now,
            "last_active_at": now,
        }
        return int(self._session.scalar(stmt, row))

    def touch(self, chat_pk: int, member_pk: int, *, now: datetime, counts: bool) -> None:
        """Record activity of a member in a chat (creating the presence row)."""
        row = {
            "chat_id": chat_pk,
            "member_id": member_pk,
            "first_seen_at": now,
            "last_active_at": now,
            "message_count": 1 if counts else 0,
        }
        insert_rows(self._session, CHAT_MEMBERS, [row], "presence-add", add_presence)

    def record_membership(
        self, chat_pk: int, member_pk: int, *, joined: bool, at: datetime, source_key: str
    ) -> None:
        """Append a join/leave event and update the member's presence in the chat."""
        event = {
            "chat_id": chat_pk,
            "member_id": member_pk,
            "kind": "join" if joined else "leave",
            "at": at,
            "source_key": source_key,
        }
        inserted = insert_ignore(
            self._session,
            MemberEvent,
            [event],
            ["source_key", "member_id", "kind"],
            MemberEvent.id,
        )
        if not inserted:
            return
        self.touch(chat_pk, member_pk, now=at, counts=False)
        values = {"joined_at": at, "left_at": None} if joined else {"left_at": at}
        self._session.execute(
            update(ChatMember)
            .where(ChatMember.chat_id == chat_pk, ChatMember.member_id == member_pk)
            .values(**values)
        )

    def joined_at(self, chat_pk: int, member_pk: int) -> datetime | None:
        return self._session.scalar(
            select(ChatMember.joined_at).where(
                ChatMember.chat_id == chat_pk, ChatMember.member_id == member_pk
            )
        )
