"""Turn an `InboundMessage` into the JSON stored in the inbox and back (lossless)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.messages import ChatRef, InboundMessage, Kind, MemberRef, Platform, Role


def message_to_payload(message: InboundMessage) -> dict[str, Any]:
    return {
        "chat": {
            "platform": str(message.chat.platform),
            "chat_id": message.chat.chat_id,
            "is_group": message.chat.is_group,
            "name": message.chat.name,
        },
        "external_id": message.external_id,
        "sender_id": message.sender_id,
        "sender_name": message.sender_name,
        "sender_role": str(message.sender_role),
        "kind": str(message.kind),
        "text": message.text,
        "sent_at": message.sent_at.isoformat(),
        "mentions": list(message.mentions),
        "mentions_bot": message.mentions_bot,
        "url": message.url,
        "title": message.title,
        "members": [{"user_id": m.user_id, "name": m.name} for m in message.members],
        "reply_url": message.reply_url,
        "extras": dict(message.extras),
    }


def payload_to_message(payload: dict[str, Any]) -> InboundMessage:
    chat = payload["chat"]
    return InboundMessage(
        chat=ChatRef(
            platform=Platform(chat["platform"]),
            chat_id=chat["chat_id"],
            is_group=bool(chat["is_group"]),
            name=chat.get("name"),
        ),
        external_id=payload["external_id"],
        sender_id=payload["sender_id"],
        sender_name=payload.get("sender_name"),
        sender_role=Role(payload.get("sender_role", "member")),
        kind=Kind(payload["kind"]),
        text=payload.get("text", ""),
        sent_at=datetime.fromisoformat(payload["sent_at"]),
        mentions=tuple(payload.get("mentions", ())),
        mentions_bot=bool(payload.get("mentions_bot", False)),
        url=payload.get("url"),
        title=payload.get("title"),
        members=tuple(MemberRef(m["user_id"], m.get("name")) for m in payload.get("members", ())),
        reply_url=payload.get("reply_url"),
        extras=dict(payload.get("extras", {})),
    )
