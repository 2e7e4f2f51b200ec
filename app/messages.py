"""Platform-neutral message types. Nothing here knows about XML, JSON, WeCom or the bridge.

Adapters build an `InboundMessage` from a wire format; handlers read it and write `Outgoing`
replies; senders turn an `Outgoing` into an API call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Platform(StrEnum):
    """Where a chat lives; replies go back the way the message came."""

    BRIDGE = "bridge"
    WECOM_APP = "wecom_app"
    WECOM_BOT = "wecom_bot"
    CONSOLE = "console"


class Kind(StrEnum):
    """What a member sent. Link-like kinds carry `url`/`title`; join/leave carry `members`."""

    TEXT = "text"
    IMAGE = "image"
    LINK = "link"
    MINI_PROGRAM = "mini_program"
    CARD = "card"
    FILE = "file"
    VOICE = "voice"
    VIDEO = "video"
    MEMBER_JOIN = "member_join"
    MEMBER_LEAVE = "member_leave"
    OTHER = "other"


class Role(StrEnum):
    MEMBER = "member"
    ADMIN = "admin"
    OWNER = "owner"
    STAFF = "staff"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A conversation: a group, or for a 1:1 chat the peer's user id."""

    platform: Platform
    chat_id: str
    is_group: bool
    name: str | None = None


@dataclass(frozen=True, slots=True)
class MemberRef:
    user_id: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One thing that happened in a chat, as every channel reports it."""

    chat: ChatRef
    external_id: str  # the channel's own message id or a composite event key
    sender_id: str
    kind: Kind
    text: str
    sent_at: datetime
    sender_name: str | None = None
    sender_role: Role = Role.MEMBER
    mentions: tuple[str, ...] = ()
    mentions_bot: bool = False
    url: str | None = None
    title: str | None = None
    members: tuple[MemberRef, ...] = ()  # who joined or left
    reply_url: str | None = None  # AI bot `response_url`, valid once for an hour
    extras: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def dedupe_key(self) -> str:
        return f"{self.chat.platform}:{self.external_id}"

    @property
    def is_group(self) -> bool:
        return self.chat.is_group


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message the bot wants to post; `format` is "text" or "markdown"."""

    chat: ChatRef
    text: str
    mention_ids: tuple[str, ...] = ()
    format: str = "text"
