"""Moderation: judge every group message before anything else answers it.

Runs right after membership, for group messages of every kind (text, image, link,
mini-program, card, …). Writes `moderation_activity`, and for a violation a `moderation_cases`
row plus its actions (outbox rows, a points deduction, an owner task, a blacklist entry) in the
worker's transaction. A violation stops the pipeline: no command, FAQ answer or points; when the
ladder says "warn" the rule's text is posted with an @ to the member.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.pipeline import Arrival, Context, Flow
from app.services import Services


def prepare(services: Services, arrivals: Sequence[Arrival], now: datetime) -> None:
    """Read the batch's group senders' recent messages (flood, repeats) in one query."""
    groups = [arrival for arrival in arrivals if arrival.message.chat.is_group]
    if groups:
        services.moderation.expect(
            {(arrival.chat_pk, arrival.member_pk) for arrival in groups},
            min([now, *(arrival.message.sent_at for arrival in groups)]),
        )


def handle(ctx: Context) -> Flow:
    at = min(ctx.message.sent_at, ctx.now)  # when it was sent, but never in the future
    outcome = ctx.services.moderation.moderate(
        ctx.message, chat_pk=ctx.chat_pk, member_pk=ctx.member_pk, at=at
    )
    if not outcome.violation:
        return Flow.CONTINUE
    if outcome.warning:
        ctx.reply(outcome.warning, mention_sender=True)
    return Flow.STOP
