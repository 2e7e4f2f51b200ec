"""Tell a member something about their points in a group, through the outbox.

Used outside the message pipeline (the expiry job, admin adjustments), inside the caller's
transaction: queues one idempotent outbox row that @-mentions the member in the given group,
or in the group where they were last active.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Chat, ChatMember, Member
from app.messages import ChatRef, Outgoing, Platform
from app.outbox import enqueue
from app.routing import draft_for


def home_chat(session: Session, member_pk: int) -> Chat | None:
    """The group the member was last active in (and has not left)."""
    return session.scalar(
        select(Chat)
        .join(ChatMember, ChatMember.chat_id == Chat.id)
        .where(
            ChatMember.member_id == member_pk,
            ChatMember.left_at.is_(None),
            Chat.is_group.is_(True),
        )
        .order_by(ChatMember.last_active_at.desc(), Chat.id)
        .limit(1)
    )


def notify_member(
    session: Session,
    *,
    member_pk: int,
    text: str,
    key: str,
    now: datetime,
    chat_pk: int | None = None,
) -> bool:
    """Queue `text` for the member (mentioned); False when there is no group to post in or
    the message with this key was queued before."""
    chat = session.get(Chat, chat_pk) if chat_pk is not None else home_chat(session, member_pk)
    member = session.get(Member, member_pk)
    if chat is None or member is None:
        return False
    ref = ChatRef(Platform(chat.platform), chat.external_id, chat.is_group, chat.name)
    outgoing = Outgoing(ref, text, (member.external_id,))
    return bool(enqueue(session, draft_for(outgoing, key=key, chat_pk=chat.id, now=now), now=now))
