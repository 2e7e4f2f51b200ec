"""排行榜: this week's, this month's or the all-time points board, top 10 plus your place.

Runs for `排行榜` (optionally followed by 本周 / 本月 / 总), `周榜`, `月榜`, `总榜`. In a group it
ranks the group's members; in a 1:1 chat, the whole community. Read-only; queues one reply.
"""

from __future__ import annotations

from app.filters import strip_mentions
from app.handlers.points_common import member_name
from app.pipeline import Context, Flow
from app.services.points_config import PointsTexts
from app.services.points_leaderboard import PERIOD_WORDS, Board, leaderboard


def handle(ctx: Context) -> Flow:
    word = ctx.command_args or strip_mentions(ctx.text).removeprefix("排行榜")
    period = PERIOD_WORDS.get(word.strip())
    if period is None:  # "排行榜怎么算" is a question, not a command: leave it to others
        return Flow.CONTINUE
    points = ctx.services.points
    points.flush()  # the board reads the ledger itself: include the batch's held awards
    board = leaderboard(
        ctx.services.session,
        period=period,
        member_pk=ctx.member_pk,
        chat_pk=ctx.chat_pk if ctx.message.is_group else None,
        now=ctx.now,
        tz=points.tz,
    )
    ctx.reply(board_text(points.config.texts, member_name(ctx), board))
    return Flow.CONTINUE


def board_text(texts: PointsTexts, name: str, board: Board) -> str:
    period = texts.render(f"period_{board.period}")
    if not board.top:
        return texts.render("leaderboard_empty", period=period)
    lines = [texts.render("leaderboard_title", period=period)]
    lines += [
        texts.render("leaderboard_line", rank=s.rank, name=s.name, points=s.points)
        for s in board.top
    ]
    if board.me is None:
        lines.append(texts.render("leaderboard_me_none", name=name, period=period))
    else:
        lines.append(
            texts.render("leaderboard_me", name=name, rank=board.me.rank, points=board.me.points)
        )
    return "\n".join(lines)
