"""Where a reply goes: the channel that brought the message, as outbox drafts.

Pure functions; the inbox worker and the scheduler call them inside their transactions.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from app.messages import InboundMessage, Outgoing, Platform
from app.outbox import OutboxDraft
from app.senders.split import split_text
from app.senders.wecom_robot import max_text_bytes

# The AI-bot callback tries to answer inside its own HTTP response first; the outbox only
# falls back to `response_url` after that window has passed.
AIBOT_PASSIVE_WINDOW = timedelta(seconds=5)
CANNOT_POST = "this channel cannot post into customer groups; a staff member must send it"


def reply_key(message: InboundMessage, index: int) -> str:
    return f"reply:{message.dedupe_key}:{index}"


def drafts_for_replies(
    message: InboundMessage, replies: list[Outgoing], *, chat_pk: int, now: datetime
) -> list[OutboxDraft]:
    drafts: list[OutboxDraft] = []
    for index, outgoing in enumerate(replies):
        drafts += draft_for(
            outgoing,
            key=reply_key(message, index),
            chat_pk=chat_pk,
            now=now,
            reply_url=message.reply_url,
        )
    return drafts


def draft_for(
    outgoing: Outgoing,
    *,
    key: str,
    chat_pk: int | None,
    now: datetime,
    reply_url: str | None = None,
    robot: tuple[str, str] | None = None,
) -> list[OutboxDraft]:
    """Drafts for one outgoing message; robot posts are split to the robot's byte limits.

    `robot` is (robot name, webhook key) when the chat is posted to through a group robot.
    """
    chat = outgoing.chat
    base = OutboxDraft(
        key=key,
        channel="console",
        target=chat.chat_id,
        text=outgoing.text,
        kind=outgoing.format,
        mention_ids=outgoing.mention_ids,
        chat_pk=chat_pk,
    )
    if robot is not None:
        name, webhook_key = robot
        limit = max_text_bytes(outgoing.format, outgoing.mention_ids)
        parts = [part for part in split_text(outgoing.text.strip(), limit) if part.strip()]
        return [
            replace(
                base,
                key=key if len(parts) == 1 else f"{key}:p{i}",
                channel="wecom_robot",
                target=name,
                text=part,
                extras={"robot_key": webhook_key},
                rate_bucket=f"robot:{name}",
                mention_ids=outgoing.mention_ids if i == 0 else (),  # ping once, not per part
            )
            for i, part in enumerate(parts)
        ]
    match chat.platform:
        case Platform.BRIDGE:
            return [replace(base, channel="bridge")]
        case Platform.WECOM_BOT:
            return [
                replace(
                    base,
                    channel="wecom_bot",
                    extras={"response_url": reply_url or ""},
                    not_before=now + AIBOT_PASSIVE_WINDOW,
                )
            ]
        case Platform.WECOM_APP if chat.is_group:
            return [replace(base, channel="wecom_app", status="dead", note=CANNOT_POST)]
        case Platform.WECOM_APP:
            return [replace(base, channel="wecom_app")]
        case _:
            return [base]
