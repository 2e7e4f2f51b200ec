"""FAQ: answer group questions nobody answered yet from the knowledge base.

Runs for group texts that no command answered. A message that @-mentions the bot always gets
an answer, or the hand-over reply and a ticket for the staff (24-hour SLA). Other messages are
answered only when they read as a question and the match is confident; small talk never is.
The same entry is not repeated in a group within the cooldown: the bot points back instead.
Writes an FAQ hit or miss row, and the ticket, in the worker's transaction.
"""

from __future__ import annotations

from app.filters import strip_mentions
from app.pipeline import Context, Flow
from app.services.faq import Outcome


def handle(ctx: Context) -> Flow:
    services = ctx.services
    message = ctx.message
    decision = services.faq.decide(
        message.text,
        chat_pk=ctx.chat_pk,
        member_pk=ctx.member_pk,
        mentioned=message.mentions_bot,
        now=ctx.now,
    )
    if decision.outcome is Outcome.SILENT:
        return Flow.CONTINUE
    if decision.outcome is Outcome.HANDOFF:
        services.tickets.open(
            chat_pk=ctx.chat_pk,
            member_pk=ctx.member_pk,
            text=strip_mentions(message.text) or message.text,
            source="mention",
            now=ctx.now,
        )
    ctx.reply(decision.text, mention_sender=True)
    return Flow.CONTINUE
