"""Builders for test inputs: bridge events and signed bridge requests, neutral messages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import uuid4

from app.messages import ChatRef, InboundMessage, Kind, Platform, Role
from app.senders.bridge import sign_bridge

GROUP = ChatRef(Platform.BRIDGE, "g-001", is_group=True, name="花屿会员1群")


def bridge_event(
    text: str = "帮助",
    *,
    at: datetime,
    id: str | None = None,
    chat: str | None = "g-001",
    user: str = "u-001",
    role: str = "member",
    type: str = "text",
    **extra: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": id or f"b-{uuid4().hex}",
        "type": type,
        "sender": {"id": user, "name": "小满", "role": role},
        "text": text,
        "mentions": [],
        "mentioned_bot": False,
        "sent_at": int(at.timestamp()),
    }
    if chat is not None:
        event["chat"] = {"id": chat, "name": "花屿会员1群"}
    event.update(extra)
    return event


def signed(
    event: dict[str, Any] | bytes, secret: str, *, timestamp: int
) -> tuple[bytes, dict[str, str]]:
    body = event if isinstance(event, bytes) else json.dumps(event, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Qunyun-Timestamp": str(timestamp),
        "X-Qunyun-Signature": sign_bridge(secret.encode(), timestamp, body),
    }
    return body, headers


def make_message(
    text: str,
    *,
    at: datetime,
    chat: ChatRef = GROUP,
    user: str = "u-001",
    role: Role = Role.MEMBER,
    kind: Kind = Kind.TEXT,
    mentions_bot: bool = False,
) -> InboundMessage:
    return InboundMessage(
        chat=chat,
        external_id=uuid4().hex,
        sender_id=user,
        kind=kind,
        text=text,
        sent_at=at,
        sender_name="小满",
        sender_role=role,
        mentions_bot=mentions_bot,
    )
