"""签到 / 打卡 and 补签: the daily check-in and make-up cards.

Runs for those commands in a group (also "@bot 签到" from the WeCom AI bot). Changes, through
the check-in service: `checkins`, `checkin_counters` and the points ledger. Replies with the
points earned, balance, streak and today's rank, or a friendly "今天已签到" without a second
credit; announces a level-up in the group.
"""

from __future__ import annotations

from app.handlers.points_common import event_time, member_name
from app.pipeline import Context, Flow
from app.services.checkin import CheckinResult
from app.services.checkin_makeup import MakeupResult
from app.services.levels import level_up_text
from app.services.points_config import PointsTexts


def handle(ctx: Context) -> Flow:
    result = ctx.services.checkin.check_in(ctx.member_pk, ctx.chat_pk, at=event_time(ctx))
    texts = ctx.services.points.config.texts
    ctx.reply(checkin_text(texts, member_name(ctx), result))
    if result.level_up is not None:
        ctx.reply(level_up_text(texts, member_name(ctx), result.level_up))
    return Flow.CONTINUE


def checkin_text(texts: PointsTexts, name: str, result: CheckinResult) -> str:
    if result.status == "disabled":
        return texts.render("checkin_off")
    values = {"name": name, "rank": result.rank, "streak": result.streak}
    if result.status == "already":
        return texts.render("checkin_again", balance=result.balance, **values)
    bonus_part = (
        texts.render("streak_bonus_part", streak=result.streak, bonus=result.bonus)
        if result.bonus
        else ""
    )
    points = result.points + result.bonus
    return texts.render(
        "checkin_ok", points=points, bonus_part=bonus_part, balance=result.balance, **values
    )


def handle_makeup(ctx: Context) -> Flow:
    result = ctx.services.checkin.make_up(ctx.member_pk, ctx.chat_pk, at=event_time(ctx))
    ctx.reply(makeup_text(ctx.services.points.config.texts, member_name(ctx), result))
    return Flow.CONTINUE


def makeup_text(texts: PointsTexts, name: str, result: MakeupResult) -> str:
    match result.status:
        case "made_up":
            day = f"{result.day.month}月{result.day.day}日"
            return texts.render(
                "makeup_ok",
                name=name,
                day=day,
                cost=result.cost,
                streak=result.streak,
                balance=result.balance,
            )
        case "not_needed":
            return texts.render("makeup_not_needed", name=name)
        case "limit":
            return texts.render("makeup_limit", name=name, limit=result.limit)
        case "insufficient":
            return texts.render(
                "makeup_insufficient", name=name, cost=result.cost, balance=result.balance
            )
        case _:
            return texts.render("makeup_off")
