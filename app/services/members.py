"""Chats and members: who is where, first seen, last active, join/leave history.

Runs for every processed inbox row (inside its transaction); creates `chats`, `members`,
`chat_members` and `member_events` rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db.models import Chat, ChatMember, Member, MemberEvent
from app.db.upsert import insert_ignore
from app.messages import ChatRef, Role


class MembersService:
    def __init__(self, session: Session) -> None:
        self._session = session

    def ensure_chat(self, chat: ChatRef, *, now: datetime) -> int:
        """Return chats.id, creating the chat when its first message arrives."""
        platform = str(chat.platform)
        insert_ignore(
            self._session,
            Chat,
            [
                {
                    "platform": platform,
                    "external_id": chat.chat_id,
                    "name": chat.name,
                    "is_group": chat.is_group,
                    "tags": [],
                    "created_at": now,
                }
            ],
            ["platform", "external_id"],
            Chat.id,
        )
        row = self._session.execute(
            select(Chat.id, Chat.name).where(
                Chat.platform == platform, Chat.external_id == chat.chat_id
            )
        ).one()
        if chat.name and row.name != chat.name:
            self._session.execute(update(Chat).where(Chat.id == row.id).values(name=chat.name))
        return int(row.id)

    def ensure_member(
        self, platform: str, user_id: str, *, name: str | None, role: Role | None, now: datetime
    ) -> int:
        """Return members.id; refreshes last_active_at, and name and role when known."""
        insert_ignore(
            self._session,
            Member,
            [
                {
                    "platform": platform,
                    "external_id": user_id,
                    "name": name,
                    "role": str(role or Role.MEMBER),
                    "first_seen_at": now,
                    "last_active_at": now,
                }
            ],
            ["platform", "external_id"],
            Member.id,
        )
        member_id = self._session.scalar(
            select(Member.id).where(Member.platform == platform, Member.external_id == user_id)
        )
        assert member_id is not None
        values: dict[str, object] = {"last_active_at": now}
        if role is not None:
            values["role"] = str(role)
        if name:
            values["name"] = name
        self._session.execute(update(Member).where(Member.id == member_id).values(**values))
        return int(member_id)

    def touch(self, chat_pk: int, member_pk: int, *, now: datetime, counts: bool) -> None:
        """Record activity of a member in a chat (creating the presence row)."""
        insert_ignore(
            self._session,
            ChatMember,
            [
                {
                    "chat_id": chat_pk,
                    "member_id": member_pk,
                    "first_seen_at": now,
                    "last_active_at": now,
                    "message_count": 0,
                }
            ],
            ["chat_id", "member_id"],
            ChatMember.id,
        )
        stmt = update(ChatMember).where(
            ChatMember.chat_id == chat_pk, ChatMember.member_id == member_pk
        )
        if counts:
            stmt = stmt.values(last_active_at=now, message_count=ChatMember.message_count + 1)
        else:
            stmt = stmt.values(last_active_at=now)
        self._session.execute(stmt)

    def record_membership(
        self, chat_pk: int, member_pk: int, *, joined: bool, at: datetime, source_key: str
    ) -> None:
        """Append a join/leave event and update the member's presence in the chat."""
        kind = "join" if joined else "leave"
        inserted = insert_ignore(
            self._session,
            MemberEvent,
            [
                {
                    "chat_id": chat_pk,
                    "member_id": member_pk,
                    "kind": kind,
                    "at": at,
                    "source_key": source_key,
                }
            ],
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
