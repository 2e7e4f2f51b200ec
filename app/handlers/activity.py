"""Activity points: the pipeline's last route, an observer of every group text message.

Runs even when an earlier route answered the message (not when moderation stopped it).
Holds the message for the batch's activity write (`finish`, or earlier when another route uses
the ledger): `points_daily` and the points ledger (a few points per valid message, with a
cooldown and a daily cap). Replies only to announce a level-up, on the message that reached it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.handlers.points_common import event_time, member_name
from app.pipeline import Arrival, Context, Flow
from app.services import Services
from app.services.levels import level_up_text
from app.services.points_config import Level


def prepare(services: Services, arrivals: Sequence[Arrival], now: datetime) -> None:
    """Read the rules' scope of the batch's groups at once."""
    services.points.expect_chats({a.chat_pk for a in arrivals if a.message.chat.is_group})


def handle(ctx: Context) -> Flow:
    texts = ctx.services.points.config.texts

    def announce(level: Level) -> None:
        ctx.reply(level_up_text(texts, member_name(ctx), level))

    ctx.services.activity.add(
        member_pk=ctx.member_pk,
        chat_pk=ctx.chat_pk,
        text=ctx.text,
        source_key=ctx.message.dedupe_key,
        at=event_time(ctx),
        on_level_up=announce,
    )
    return Flow.CONTINUE


def finish(services: Services) -> None:
    """Write the batch's activity points (the level-up replies join their messages)."""
    services.activity.flush()
