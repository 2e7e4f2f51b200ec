"""群规, 我的违规 and 申诉 through the real pipeline."""

from __future__ import annotations

from sqlalchemy import select

from app.clock import FixedClock
from app.db.models import ModerationAppeal
from app.messages import ChatRef, Platform
from app.runtime import Runtime
from tests.moderation.db_helpers import cases, outbox, put_scope, say

AD = "大家好加微信领福利"


def test_group_rules_answer_with_the_groups_own_text(runtime: Runtime, clock: FixedClock) -> None:
    default = say(runtime, clock, "群规")
    put_scope(runtime, "group:g-001", {"group_rules_text": "会员群群规：只聊花。"})
    own = say(runtime, clock, "群规")

    assert default.texts[0].startswith("本群群规：")
    assert own.texts == ["会员群群规：只聊花。"]
    assert "faq" not in own.routes


def test_my_violations_lists_my_recent_cases_only(runtime: Runtime, clock: FixedClock) -> None:
    empty = say(runtime, clock, "我的违规")
    say(runtime, clock, AD)
    say(runtime, clock, AD, user="u-002")
    clock.advance(hours=1)

    mine = say(runtime, clock, "我的违规")

    assert empty.texts == ["你最近 30 天没有违规记录，谢谢你维护群秩序！"]
    (text,) = mine.texts
    lines = text.splitlines()
    assert lines[0] == "你最近 30 天的违规记录："
    assert lines[1] == "#1 11-23 09:30 广告：本群禁止发广告、引流和色情信息。（待复核）"
    assert len(lines) == 3  # u-002's case is not listed
    assert mine.replies[0].mention_ids == ["u-001"]


def test_an_appeal_is_stored_once_and_the_staff_are_told(
    runtime: Runtime, clock: FixedClock
) -> None:
    nothing = say(runtime, clock, "申诉 我没有违规")
    say(runtime, clock, AD)
    usage = say(runtime, clock, "申诉")
    received = say(runtime, clock, "申诉 我发的是店里的客服微信")
    again = say(runtime, clock, "申诉 再说一次")

    assert nothing.texts == ["没有找到 30 天内可以申诉的违规记录。"]
    assert usage.texts[0].startswith("请在「申诉」后写上理由")
    assert received.texts == ["已收到你对违规记录 #1 的申诉，管理员会尽快处理。"]
    assert again.texts == ["违规记录 #1 已经申诉过了，请耐心等待管理员处理。"]
    with runtime.deps.session_factory() as session:
        appeal = session.scalars(select(ModerationAppeal)).one()
    assert (appeal.case_id, appeal.reason, appeal.status) == (1, "我发的是店里的客服微信", "open")
    (notice,) = outbox(runtime, "moderation:notify:appeal:")
    assert "理由：我发的是店里的客服微信" in notice.text


def test_commands_work_in_a_private_chat_too(runtime: Runtime, clock: FixedClock) -> None:
    say(runtime, clock, AD)
    private = ChatRef(Platform.BRIDGE, "u-001", is_group=False)

    listed = say(runtime, clock, "我的违规", chat=private)
    rules = say(runtime, clock, "群规", chat=private)

    assert "#1" in listed.texts[0]
    assert listed.replies[0].mention_ids == []
    assert rules.texts[0].startswith("本群群规：")
    assert len(cases(runtime)) == 1
