"""Flood, repeats, spam waves and new-member links over an injected history (no sleeping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.clock import FixedClock
from app.moderation.activity import (
    RecentMessage,
    check_activity,
    check_new_member_link,
    similarity_key,
)
from app.moderation.engine import ContentChecker
from app.moderation.rules import EffectiveRules, RuleSet
from tests.moderation.conftest import RulesFactory

START = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)
RULES = """
[[rules]]
id = "flood"
detector = "flood"
max_messages = 4
window_seconds = 10

[[rules]]
id = "repeat"
detector = "repeat"
count = 3
window_seconds = 60
min_chars = 4

[[rules]]
id = "wave"
detector = "spam_wave"
members = 3
window_seconds = 300
min_chars = 8
min_similarity = 0.85

[[rules]]
id = "new_links"
detector = "new_member_links"
hours = 24
"""


@pytest.fixture
def activity_rules(make_rules: RulesFactory) -> EffectiveRules:
    return make_rules(RULES).for_chat(None)


class History:
    """Messages sent at the times of a FixedClock that the test moves."""

    def __init__(self) -> None:
        self.clock = FixedClock(START)
        self.messages: list[RecentMessage] = []

    def send(self, user: str, text: str, *, chat: str = "g-1", after: float = 1) -> RecentMessage:
        self.clock.advance(seconds=after)
        message = RecentMessage(chat, user, text, self.clock.now())
        self.messages.append(message)
        return message


def rules_hit(history: History, current: RecentMessage, rules: EffectiveRules) -> list[str]:
    return [hit.rule for hit in check_activity(history.messages, current, rules)]


def test_flood_fires_at_the_limit_within_the_window(activity_rules: EffectiveRules) -> None:
    history = History()
    fired = [
        rules_hit(history, history.send("u-1", f"第{i}条消息"), activity_rules) for i in range(4)
    ]
    assert fired == [[], [], [], ["flood"]]


def test_flood_window_slides(activity_rules: EffectiveRules) -> None:
    history = History()
    for i in range(3):
        history.send("u-1", f"第{i}条", after=4)
    current = history.send("u-1", "第四条", after=4)  # the first is 12 s old now
    assert rules_hit(history, current, activity_rules) == []


def test_flood_counts_one_member_in_one_chat(activity_rules: EffectiveRules) -> None:
    history = History()
    history.send("u-2", "别人的消息")
    history.send("u-1", "另一个群", chat="g-2")
    history.send("u-1", "一")
    history.send("u-1", "二")
    assert rules_hit(history, history.send("u-1", "三"), activity_rules) == []


def test_flood_hit_says_what_was_counted(activity_rules: EffectiveRules) -> None:
    history = History()
    for i in range(3):
        history.send("u-1", str(i))
    (hit,) = check_activity(history.messages, history.send("u-1", "再来"), activity_rules)
    assert (hit.rule, hit.category, hit.start, hit.end) == ("flood", "spam", 0, 0)
    assert hit.detail == "4 messages in 10 s (limit 3)"


def test_repeat_fires_on_the_third_copy(activity_rules: EffectiveRules) -> None:
    history = History()
    fired = [
        rules_hit(history, history.send("u-1", "收到请回复", after=15), activity_rules)
        for _ in range(3)
    ]
    assert fired == [[], [], ["repeat"]]


def test_repeat_ignores_short_texts_and_old_copies(activity_rules: EffectiveRules) -> None:
    history = History()
    for _ in range(3):
        last = history.send("u-1", "好的", after=15)
    assert rules_hit(history, last, activity_rules) == []
    history = History()
    history.send("u-1", "收到请回复")
    history.send("u-1", "收到请回复", after=40)
    assert rules_hit(history, history.send("u-1", "收到请回复", after=40), activity_rules) == []


def test_spam_wave_needs_different_members(activity_rules: EffectiveRules) -> None:
    history = History()
    text = "低价鲜花批发，需要的私聊我哦"
    assert rules_hit(history, history.send("u-1", text), activity_rules) == []
    assert rules_hit(history, history.send("u-1", text), activity_rules) == []  # same member
    assert rules_hit(history, history.send("u-2", text + "！"), activity_rules) == []
    current = history.send("u-3", "低价鲜花批发,需要的私聊我")  # near copy, other punctuation
    assert rules_hit(history, current, activity_rules) == ["wave"]


def test_spam_wave_window_and_chats(make_rules: RulesFactory) -> None:
    text = "进群领取免费多肉一盆先到先得"
    history = History()
    history.send("u-1", text, chat="g-1")
    history.send("u-2", text, chat="g-2", after=200)
    current = history.send("u-3", text, chat="g-3", after=200)  # the first is 400 s old
    rules = make_rules(RULES).for_chat(None)
    assert rules_hit(history, current, rules) == []
    per_chat_rules = RULES.replace(
        "min_similarity = 0.85", "min_similarity = 0.85\nacross_chats = false"
    )
    per_chat = make_rules(per_chat_rules).for_chat(None)
    history = History()
    history.send("u-1", text, chat="g-1")
    history.send("u-2", text, chat="g-2")
    assert rules_hit(history, history.send("u-3", text, chat="g-3"), per_chat) == []


def test_similarity_key_drops_punctuation_and_keeps_emoji_only_texts() -> None:
    assert similarity_key("收到，请回复!") == "收到请回复"
    assert similarity_key("🌹 🌹") == "🌹🌹"


def test_new_member_links(rules: RuleSet, checker: ContentChecker) -> None:
    scope = rules.for_chat(None)
    now = START
    external = checker.check("看看 other.cn 的花")
    own = checker.check("官网 shop.example.com")
    joined = now - timedelta(hours=2)
    (hit,) = check_new_member_link(external, joined_at=joined, now=now, rules=scope)
    assert (hit.rule, hit.matched) == ("new_member_links", "other.cn")
    assert check_new_member_link(own, joined_at=joined, now=now, rules=scope) == []
    old = now - timedelta(hours=30)
    assert check_new_member_link(external, joined_at=old, now=now, rules=scope) == []
    assert check_new_member_link(external, joined_at=None, now=now, rules=scope) == []
