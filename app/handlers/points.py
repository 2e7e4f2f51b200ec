"""积分 / 我的积分 and 等级: a member asks for their balance, level and what comes next.

Runs for those commands in groups and 1:1 chats. Read-only; queues one reply.
"""

from __future__ import annotations

from app.handlers.points_common import member_name
from app.pipeline import Context, Flow
from app.services.levels import levels_text


def handle(ctx: Context) -> Flow:
    points = ctx.services.points
    texts = points.config.texts
    account = points.account(ctx.member_pk)
    status = points.level_status(ctx.member_pk)
    if status.next is None:
        next_part = texts.render("top_level_part")
    else:
        next_part = texts.render(
            "next_level_part",
            next_level=status.next.level,
            next_name=status.next.name,
            gap=status.gap,
        )
    ctx.reply(
        texts.render(
            "balance",
            name=member_name(ctx),
            balance=account.balance,
            level=status.current.level,
            level_name=status.current.name,
            next_part=next_part,
        )
    )
    return Flow.CONTINUE


def handle_levels(ctx: Context) -> Flow:
    points = ctx.services.points
    status = points.level_status(ctx.member_pk)
    ctx.reply(levels_text(points.config.texts, points.config.levels, status))
    return Flow.CONTINUE
