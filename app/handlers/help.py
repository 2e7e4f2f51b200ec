"""帮助: list what members can ask the bot. Read-only; queues one reply."""

from __future__ import annotations

from app.pipeline import Context, Flow


def handle(ctx: Context) -> Flow:
    ctx.reply(ctx.services.texts.help.render())
    return Flow.CONTINUE
