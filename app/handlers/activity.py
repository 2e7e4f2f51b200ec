"""Activity points: the pipeline's last route, an observer of every group text message.

Runs even when an earlier route answered the message (not when moderation stopped it).
Changes `points_daily` and the points ledger (a few points per valid message, with a cooldown
and a daily cap); replies only to announce a level-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.handlers.points_common import event_time, member_name
from app.pipeline import Arrival, Context, Flow
from app.services import Services
from app.services.levels import level_up_text
from app.services.points_activity import award_activity


def prepare(services: Services, arrivals: Sequence[Arrival], now: datetime) -> None:
    """Read the rules' scope of the batch's groups at once."""
    services.points.expect_chats({a.chat_pk for a in arrivals if a.message.chat.is_group})


def handle(ctx: Context) -> Flow:
    points = ctx.services.points
    result = award_activity(
        points,
        member_pk=ctx.member_pk,
        chat_pk=ctx.chat_pk,
        text=ctx.text,
        source_key=ctx.message.dedupe_key,
        at=event_time(ctx),
    )
    if result is not None and result.level_up is not None:
        ctx.reply(level_up_text(points.config.texts, member_name(ctx), result.level_up))
    return Flow.CONTINUE
