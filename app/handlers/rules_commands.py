"""Member commands about the group rules: 群规, 我的违规, 申诉 <理由>.

Run for text messages (group or 1:1) that are exactly one of these commands, after moderation.
群规 and 我的违规 only read and reply; 申诉 writes an appeal for the member's latest case and
queues a notice to the staff, in the worker's transaction.
"""

from __future__ import annotations

from app.pipeline import Context, Flow
from app.services.moderation_member import appeal_text, group_rules_text, my_cases_text


def handle_rules(ctx: Context) -> Flow:
    ctx.reply(group_rules_text(ctx.services.moderation, ctx.message, ctx.chat_pk))
    return Flow.CONTINUE


def handle_my_cases(ctx: Context) -> Flow:
    text = my_cases_text(ctx.services.moderation, ctx.member_pk, min(ctx.message.sent_at, ctx.now))
    ctx.reply(text, mention_sender=ctx.message.is_group)
    return Flow.CONTINUE


def handle_appeal(ctx: Context) -> Flow:
    at = min(ctx.message.sent_at, ctx.now)
    ids = (ctx.chat_pk, ctx.member_pk)
    text = appeal_text(ctx.services.moderation, ctx.message, ids, ctx.command_args, at)
    ctx.reply(text, mention_sender=ctx.message.is_group)
    return Flow.CONTINUE
