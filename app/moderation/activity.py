"""Rules about behaviour over time: flood, repeated text, spam waves, links from new members.

Pure functions over a history the caller passes in (the moderation service keeps the last minutes
of messages per chat); they read no clock and store nothing, so tests drive them with fixed
times. Called for every group message after the content check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from app.moderation.rule_types import FloodRule, NewMemberLinkRule, RepeatRule, SpamWaveRule
from app.moderation.rules import EffectiveRules
from app.moderation.verdict import Category, ContentVerdict, Hit

_NOT_CONTENT = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class RecentMessage:
    """One earlier (or the current) message: `normalized_text` is `ContentVerdict.normalized`."""

    chat_id: str
    user_id: str
    normalized_text: str
    at: datetime


def similarity_key(text: str) -> str:
    """What two messages must share to count as the same text: letters and digits, or symbols."""
    return _NOT_CONTENT.sub("", text) or "".join(text.split())


def _similar(a: str, b: str, min_similarity: float) -> bool:
    if a == b:
        return True
    return min_similarity < 1 and fuzz.ratio(a, b) >= min_similarity * 100


def _within(message: RecentMessage, current: RecentMessage, seconds: float) -> bool:
    return current.at - timedelta(seconds=seconds) <= message.at <= current.at


def _whole(rule_id: str, category: Category, current: RecentMessage, detail: str) -> Hit:
    return Hit(rule_id, category, 0, 0, current.normalized_text[:80], detail)


def check_activity(
    recent: Sequence[RecentMessage], current: RecentMessage, rules: EffectiveRules
) -> list[Hit]:
    """Flood, repeat and spam-wave hits for `current`; `recent` may include it or not."""
    history = [m for m in recent if m is not current and m != current]
    hits: list[Hit] = []
    for rule in rules.activity_rules:
        if isinstance(rule, FloodRule):
            hits += _flood(rule, history, current)
        elif isinstance(rule, RepeatRule):
            hits += _repeat(rule, history, current)
        elif isinstance(rule, SpamWaveRule):
            hits += _spam_wave(rule, history, current)
    return hits


def _flood(rule: FloodRule, history: list[RecentMessage], current: RecentMessage) -> list[Hit]:
    mine = [
        m
        for m in history
        if m.chat_id == current.chat_id
        and m.user_id == current.user_id
        and _within(m, current, rule.window_seconds)
    ]
    count = len(mine) + 1
    if count < rule.max_messages:
        return []
    detail = f"{count} messages in {rule.window_seconds:g} s (limit {rule.max_messages - 1})"
    return [_whole(rule.id, rule.category, current, detail)]


def _repeat(rule: RepeatRule, history: list[RecentMessage], current: RecentMessage) -> list[Hit]:
    key = similarity_key(current.normalized_text)
    if len(key) < rule.min_chars:
        return []
    same = [
        m
        for m in history
        if m.chat_id == current.chat_id
        and m.user_id == current.user_id
        and _within(m, current, rule.window_seconds)
        and _similar(similarity_key(m.normalized_text), key, rule.min_similarity)
    ]
    count = len(same) + 1
    if count < rule.count:
        return []
    detail = f"same text {count} times in {rule.window_seconds:g} s"
    return [_whole(rule.id, rule.category, current, detail)]


def _spam_wave(
    rule: SpamWaveRule, history: list[RecentMessage], current: RecentMessage
) -> list[Hit]:
    key = similarity_key(current.normalized_text)
    if len(key) < rule.min_chars:
        return []
    senders = {current.user_id}
    for m in history:
        in_scope = rule.across_chats or m.chat_id == current.chat_id
        if not in_scope or not _within(m, current, rule.window_seconds):
            continue
        if _similar(similarity_key(m.normalized_text), key, rule.min_similarity):
            senders.add(m.user_id)
    if len(senders) < rule.members:
        return []
    detail = f"same text from {len(senders)} members in {rule.window_seconds:g} s"
    return [_whole(rule.id, rule.category, current, detail)]


def check_new_member_link(
    verdict: ContentVerdict,
    *,
    joined_at: datetime | None,
    now: datetime,
    rules: EffectiveRules,
) -> list[Hit]:
    """A hit when a member who joined less than `hours` ago posts a link.

    `joined_at` None means the join time is unknown (member from before the bot): not new.
    """
    if joined_at is None or not verdict.links:
        return []
    hits: list[Hit] = []
    for rule in rules.rules:
        if not isinstance(rule, NewMemberLinkRule):
            continue
        if now - joined_at >= timedelta(hours=rule.hours):
            continue
        allowed = () if rule.include_whitelisted else verdict.allowed_links
        hosts = [host for host in verdict.links if host not in allowed]
        if hosts:
            age = (now - joined_at).total_seconds() / 3600
            detail = f"link to {hosts[0]} {age:.1f} h after joining (limit {rule.hours:g} h)"
            hits.append(Hit(rule.id, rule.category, 0, 0, hosts[0], detail))
    return hits
