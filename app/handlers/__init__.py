"""Message pipeline. Order matters: read top to bottom.

Before the pipeline runs, the inbox has already removed duplicates (a unique key per channel
message id, answered 200 with no second effect) and the worker has made sure the chat and the
sender exist (their activity and message counts are written after the batch's pipeline runs,
see app/services/presence.py). Then:

1. membership  — join/leave events update member history and stop.
2. moderation  — judge the message against the group rules; a violation stops the pipeline.
3. commands    — member commands (帮助, 群规, 签到, 抢N, 积分, 转人工 …); the first match answers.
4. faq         — answer questions nobody answered yet from the knowledge base.
5. activity    — activity points; an observer that runs even when the message was answered
                 (it replies only to announce a level-up). Keep it the last route.
"""

from app.filters import command, in_group, is_membership_change, is_text, unanswered
from app.pipeline import Pipeline, Route

from . import (
    activity,
    checkin,
    faq,
    flash_sale,
    handoff,
    help,
    leaderboard,
    members,
    moderation,
    points,
    rules_commands,
)

PIPELINE = Pipeline(
    Route("membership", members.handle, when=(is_membership_change,)),
    # Every other group message, any kind: a violation stops here (no answer, no points).
    Route("moderation", moderation.handle, when=(in_group,), prepare=moderation.prepare),
    Route("help", help.handle, when=(is_text, command("帮助", "菜单", "help", "/help"))),
    Route("group_rules", rules_commands.handle_rules, when=(is_text, command("群规"))),
    Route("my_violations", rules_commands.handle_my_cases, when=(is_text, command("我的违规"))),
    Route(
        "appeal",
        rules_commands.handle_appeal,
        when=(is_text, command("申诉", takes_args=True)),
    ),
    Route("checkin", checkin.handle, when=(in_group, is_text, command("签到", "打卡"))),
    # 抢3 / 秒杀3: always answered (so the FAQ's `unanswered` skips it); never stops the rest.
    Route(
        "flash_sale",
        flash_sale.handle,
        when=(is_text, flash_sale.is_claim),
        prepare=flash_sale.prepare,
        finish=flash_sale.finish,
    ),
    Route("makeup", checkin.handle_makeup, when=(in_group, is_text, command("补签", "补签卡"))),
    Route("points", points.handle, when=(is_text, command("积分", "我的积分", "查积分"))),
    Route("levels", points.handle_levels, when=(is_text, command("等级", "我的等级"))),
    Route(
        "leaderboard",
        leaderboard.handle,
        when=(is_text, command("排行榜", "周榜", "月榜", "总榜", takes_args=True)),
    ),
    Route(
        "handoff",
        handoff.handle,
        when=(in_group, is_text, command("转人工", "人工客服", "找人工", takes_args=True)),
    ),
    # FAQ: only what no command answered; @-mentions always get an answer or 转人工.
    Route("faq", faq.handle, when=(in_group, is_text, unanswered)),
    # Keep LAST: activity points observe every group text, answered or not.
    Route(
        "activity",
        activity.handle,
        when=(in_group, is_text),
        prepare=activity.prepare,
        finish=activity.finish,
    ),
)
