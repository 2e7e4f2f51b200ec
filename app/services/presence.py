"""Presence for a batch of inbox messages: who wrote where, in a few statements per batch.

Runs in the inbox worker, inside a batch's transaction, around the pipeline:
- `prepare` (before it) reads the batch's chats and senders in one query each and creates only
  those seen for the first time (and renames renamed chats), so every handler finds the sender
  as a member of the chat;
- `settle` (after it) records, for the messages that were processed, last activity, name, role
  and message counts: one multi-row upsert for `members`, one for `chat_members`.
The busy rows are written last and in key order: another worker's batch with the same senders
waits only for this batch's commit, never for its pipeline, and two batches cannot deadlock on
them. Per-message semantics are those of `MembersService.ensure_member` / `touch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Chat, ChatMember, Member
from app.db.upsert import cached_statement, insert_ignore, insert_rows, one_of
from app.messages import InboundMessage, Kind, Role
from app.services.members import (
    CHAT_MEMBERS,
    MEMBERS,
    MembersService,
    add_presence,
    finish_member_upsert,
)

NOT_COUNTED = (Kind.MEMBER_JOIN, Kind.MEMBER_LEAVE)
SYSTEM_SENDER = "sys"  # join/leave notices; their "sender" has no role of its own


@dataclass(frozen=True, slots=True)
class Seen:
    """One message's chat and sender (`chats.id`, `members.id`)."""

    chat_pk: int
    member_pk: int


def counts(message: InboundMessage) -> bool:
    """Whether the message counts as activity in the chat (join/leave notices do not)."""
    return message.kind not in NOT_COUNTED


class BatchPresence:
    """Presence of one batch: `prepare` once, then `settle` with the processed messages."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._members = MembersService(session)

    def prepare(self, messages: Sequence[InboundMessage]) -> list[Seen]:
        chats = self._chat_ids(messages)
        members = self._member_ids(messages)
        seen = [
            Seen(
                chats[(str(m.chat.platform), m.chat.chat_id, m.chat.name)],
                members[(str(m.chat.platform), m.sender_id)],
            )
            for m in messages
        ]
        self._ensure_presence(messages, seen)
        return seen

    def settle(self, processed: Sequence[tuple[InboundMessage, Seen]]) -> None:
        """Record activity for the processed messages (failed ones count when retried)."""
        with_role: dict[tuple[str, str], dict[str, Any]] = {}
        without_role: dict[tuple[str, str], dict[str, Any]] = {}
        presence: dict[tuple[int, int], dict[str, Any]] = {}
        for message, seen in processed:
            key = (str(message.chat.platform), message.sender_id)
            _merge_member(with_role, without_role, key, message)
            if counts(message):
                row = presence.setdefault(
                    (seen.chat_pk, seen.member_pk),
                    {
                        "chat_id": seen.chat_pk,
                        "member_id": seen.member_pk,
                        "first_seen_at": message.sent_at,
                        "last_active_at": message.sent_at,
                        "message_count": 0,
                    },
                )
                row["message_count"] += 1
                row["last_active_at"] = max(row["last_active_at"], message.sent_at)
        for role_known, rows in ((True, with_role), (False, without_role)):
            if rows:
                insert_rows(
                    self._session,
                    MEMBERS,
                    [rows[k] for k in sorted(rows)],
                    ("member-upsert", role_known),
                    partial(finish_member_upsert, with_role=role_known),
                )
        if presence:
            ordered = [presence[k] for k in sorted(presence)]
            insert_rows(self._session, CHAT_MEMBERS, ordered, "presence-add", add_presence)

    # -- prepare ----------------------------------------------------------------------------
    def _chat_ids(
        self, messages: Sequence[InboundMessage]
    ) -> dict[tuple[str, str, str | None], int]:
        """Every (platform, chat, name) of the batch: one read; new or renamed chats upserted."""
        wanted = {(str(m.chat.platform), m.chat.chat_id, m.chat.name): m for m in messages}
        params = {
            "platforms": sorted({platform for platform, _, _ in wanted}),
            "chats": sorted({chat for _, chat, _ in wanted}),
        }
        stmt = cached_statement(self._session, "presence-chats", _chats_select)
        found = {
            (row.platform, row.external_id): row for row in self._session.execute(stmt, params)
        }
        chats: dict[tuple[str, str, str | None], int] = {}
        for key in wanted:  # message order: of two new names in a batch the later one wins
            platform, chat_id, name = key
            known = found.get((platform, chat_id))
            if known is not None and (name is None or name == known.name):
                chats[key] = int(known.id)
            else:  # first message of the chat, or a new name: rare
                message = wanted[key]
                chats[key] = self._members.upsert_chat(message.chat, now=message.sent_at)
        return chats

    def _member_ids(self, messages: Sequence[InboundMessage]) -> dict[tuple[str, str], int]:
        first: dict[tuple[str, str], InboundMessage] = {}
        for message in messages:
            first.setdefault((str(message.chat.platform), message.sender_id), message)
        platforms = {platform for platform, _ in first}
        params = {"platforms": sorted(platforms), "users": sorted({user for _, user in first})}
        found = {
            (row.platform, row.external_id): int(row.id)
            for row in self._session.execute(
                cached_statement(self._session, "presence-members", _members_select), params
            )
        }
        new = [
            {
                "platform": platform,
                "external_id": user,
                "name": first[(platform, user)].sender_name,
                "role": str(_role(first[(platform, user)]) or Role.MEMBER),
                "first_seen_at": first[(platform, user)].sent_at,
                "last_active_at": first[(platform, user)].sent_at,
            }
            for platform, user in sorted(first.keys() - found.keys())  # first messages ever
        ]
        if new:  # one statement for all; `settle` brings name, role and activity up to date
            created = insert_rows(self._session, MEMBERS, new, "presence-new", _new_members)
            found.update(((row.platform, row.external_id), int(row.id)) for row in created)
        return {key: found[key] for key in first}

    def _ensure_presence(self, messages: Sequence[InboundMessage], seen: list[Seen]) -> None:
        wanted: dict[tuple[int, int], datetime] = {}
        for message, pks in zip(messages, seen, strict=True):
            if counts(message):
                wanted.setdefault((pks.chat_pk, pks.member_pk), message.sent_at)
        if not wanted:
            return
        chats = {chat for chat, _ in wanted}
        members = {member for _, member in wanted}
        params = {"chats": sorted(chats), "members": sorted(members)}
        known = {
            (int(chat), int(member))
            for chat, member in self._session.execute(
                cached_statement(self._session, "presence-known", _presence_select), params
            )
        }
        rows = [
            {
                "chat_id": chat,
                "member_id": member,
                "first_seen_at": at,
                "last_active_at": at,
                "message_count": 0,  # counted in `settle`, with the batch's other messages
            }
            for (chat, member), at in sorted(wanted.items())
            if (chat, member) not in known
        ]
        insert_ignore(self._session, ChatMember, rows, ["chat_id", "member_id"], ChatMember.id)


def _new_members(dialect: str, insert: Any) -> Any:
    upsert = finish_member_upsert(dialect, insert, with_role=False)
    return upsert.returning(Member.platform, Member.external_id)


def _chats_select(dialect: str) -> Any:
    return select(Chat.id, Chat.platform, Chat.external_id, Chat.name).where(
        one_of(dialect, Chat.platform, "platforms"),
        one_of(dialect, Chat.external_id, "chats"),
    )


def _members_select(dialect: str) -> Any:
    return select(Member.id, Member.platform, Member.external_id).where(
        one_of(dialect, Member.platform, "platforms"),
        one_of(dialect, Member.external_id, "users"),
    )


def _presence_select(dialect: str) -> Any:
    return select(ChatMember.chat_id, ChatMember.member_id).where(
        one_of(dialect, ChatMember.chat_id, "chats"),
        one_of(dialect, ChatMember.member_id, "members"),
    )


def _role(message: InboundMessage) -> Role | None:
    return message.sender_role if message.sender_id != SYSTEM_SENDER else None


def _merge_member(
    with_role: dict[tuple[str, str], dict[str, Any]],
    without_role: dict[tuple[str, str], dict[str, Any]],
    key: tuple[str, str],
    message: InboundMessage,
) -> None:
    """Fold one message into its sender's row (latest name and role, earliest and latest
    time), as the per-message upserts applied one after the other would leave it."""
    role = _role(message)
    row = with_role.get(key) or without_role.get(key)
    if row is None:
        row = {
            "platform": key[0],
            "external_id": key[1],
            "name": None,
            "role": str(Role.MEMBER),
            "first_seen_at": message.sent_at,
            "last_active_at": message.sent_at,
        }
    row["name"] = message.sender_name or row["name"]
    row["first_seen_at"] = min(row["first_seen_at"], message.sent_at)
    row["last_active_at"] = max(row["last_active_at"], message.sent_at)
    if role is not None:
        row["role"] = str(role)
        without_role.pop(key, None)
        with_role[key] = row
    elif key not in with_role:
        without_role[key] = row
