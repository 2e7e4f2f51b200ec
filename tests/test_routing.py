"""Replies go back the way the message came; robot posts are split to the byte limit."""

from __future__ import annotations

from app.clock import FixedClock
from app.messages import ChatRef, Outgoing, Platform
from app.routing import CANNOT_POST, draft_for
from app.senders.split import utf8_len


def test_each_platform_gets_its_channel(clock: FixedClock) -> None:
    def channel(platform: Platform, group: bool = True) -> tuple[str, str]:
        [draft] = draft_for(
            Outgoing(ChatRef(platform, "c", group), "hi"),
            key="k",
            chat_pk=1,
            now=clock.now(),
            reply_url="https://x/resp",
        )
        return draft.channel, draft.status

    assert channel(Platform.BRIDGE) == ("bridge", "queued")
    assert channel(Platform.WECOM_BOT) == ("wecom_bot", "queued")
    assert channel(Platform.WECOM_APP, group=False) == ("wecom_app", "queued")
    assert channel(Platform.WECOM_APP) == ("wecom_app", "dead")
    assert channel(Platform.CONSOLE) == ("console", "queued")


def test_customer_group_reply_says_why_it_is_not_sent(clock: FixedClock) -> None:
    [draft] = draft_for(
        Outgoing(ChatRef(Platform.WECOM_APP, "wr1", True), "hi"),
        key="k",
        chat_pk=1,
        now=clock.now(),
    )
    assert draft.note == CANNOT_POST


def test_ai_bot_reply_waits_for_the_passive_window(clock: FixedClock) -> None:
    [draft] = draft_for(
        Outgoing(ChatRef(Platform.WECOM_BOT, "c", True), "hi"),
        key="k",
        chat_pk=1,
        now=clock.now(),
        reply_url="https://x/resp",
    )
    assert draft.not_before is not None
    assert draft.not_before > clock.now()
    assert draft.extras["response_url"] == "https://x/resp"


def test_long_robot_post_is_split_with_one_mention(clock: FixedClock) -> None:
    text = "今天的花卉知识：玫瑰醒花要先剪根。\n" * 300
    outgoing = Outgoing(ChatRef(Platform.BRIDGE, "g", True), text, ("u-1",))

    drafts = draft_for(outgoing, key="post:1", chat_pk=1, now=clock.now(), robot=("r1", "KEY"))

    assert len(drafts) > 1
    assert all(utf8_len(d.text) <= 2048 for d in drafts)
    assert "".join(d.text for d in drafts) == text.strip()
    assert [d.mention_ids for d in drafts[:2]] == [("u-1",), ()]
    assert len({d.key for d in drafts}) == len(drafts)
    assert {d.rate_bucket for d in drafts} == {"robot:r1"}
