"""Membership: record who joined or left a group (member history).

Runs for member_join / member_leave events; writes `member_events` and `chat_members`.
"""

from __future__ import annotations

from app.messages import Kind
from app.pipeline import Context, Flow


def handle(ctx: Context) -> Flow:
    message = ctx.message
    members = ctx.services.members
    joined = message.kind is Kind.MEMBER_JOIN
    for person in message.members:
        member_pk = members.ensure_member(
            str(message.chat.platform),
            person.user_id,
            name=person.name,
            role=None,
            now=message.sent_at,
        )
        members.record_membership(
            ctx.chat_pk,
            member_pk,
            joined=joined,
            at=message.sent_at,
            source_key=message.dedupe_key,
        )
    # A join/leave event is not a chat message: nothing later in the pipeline applies.
    return Flow.STOP
