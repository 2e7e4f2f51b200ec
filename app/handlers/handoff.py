"""转人工: a member asks for a person; opens a ticket for the staff (24-hour SLA).

Runs for the 转人工 / 人工客服 commands in groups. The ticket's text is what follows the command,
or else the member's last question the bot could not answer in the past hour. Writes the ticket
(and the staff notifications in the outbox) in the worker's transaction; replies once.
"""

from __future__ import annotations

from datetime import timedelta

from app.pipeline import Context, Flow

RECENT_QUESTION = timedelta(hours=1)


def handle(ctx: Context) -> Flow:
    services = ctx.services
    answering = services.faq.config.answering
    text = ctx.command_args or services.faq.last_miss(
        ctx.chat_pk, ctx.member_pk, ctx.now - RECENT_QUESTION
    )
    services.tickets.open(
        chat_pk=ctx.chat_pk,
        member_pk=ctx.member_pk,
        text=text or answering.handoff_placeholder,
        source="handoff",
        now=ctx.now,
    )
    ctx.reply(answering.handoff_ack.format(hours=answering.ticket_sla_hours), mention_sender=True)
    return Flow.CONTINUE
