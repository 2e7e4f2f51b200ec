"""Content detectors: each turns one configured rule and one message into signals.

Called by `ContentChecker.check` for every message, in rule order; pure functions over the
normalised message, no state and no I/O. A *signal* is a finding with a span: a strong one is a
violation by itself, a weak one (`tag` set) only counts through a combination rule.
*Carriers* (links, contact ids, phone numbers, cards) are how a message reaches people; they may
take the category of what the message is about (see `ModerationSettings.carriers_follow`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.messages import Kind
from app.moderation.lexicon import LexiconMatch
from app.moderation.links import DomainPolicy, FoundLink, LinkKind, host_of_url
from app.moderation.normalize import Normalized, Space
from app.moderation.rule_types import (
    ContactRule,
    LinkRule,
    MessageKindRule,
    OverlongRule,
    PhoneRule,
    RegexRule,
    RepetitionRule,
)
from app.moderation.rules import ModerationSettings
from app.moderation.verdict import Category

_MAX_MATCHES_PER_RULE = 5
_SPACES: tuple[Space, ...] = ("original", "text", "compact")
# Anything but letters, digits and clause punctuation: what evasion puts inside a word.
_JUNK = re.compile(r"[^\w，。！？、；：,.!?;:…]|_")

# `v:` alone (with the colon) is how ads write WeChat, `v领` is a collar; `q群` is a QQ group.
_LONE_LETTERS = "(?<![a-z0-9])v(?=[:=])|(?<![a-z0-9])q(?=群)"
_CONTACT_WORD = f"(?:微信|qq|抖音|快手|小红书|微博|telegram|tg|飞机|{_LONE_LETTERS})"
_ID_LABEL = "(?:号码?|id|账号|名|是|搜索?|搜一搜|同号|群号?)?"
# A WeChat-style id (6–20 characters, starting with a letter) after a contact word.
_CONTACT_ID = re.compile(
    rf"{_CONTACT_WORD}{_ID_LABEL}[\s:=]{{0,3}}[a-z][a-z0-9_-]{{5,19}}(?![a-z0-9_-])"
)
# A number after a contact word, on the compact form (separators and 汉字 digits already gone).
_CONTACT_NUMBER = re.compile(rf"{_CONTACT_WORD}{_ID_LABEL}[1-9][0-9]{{4,11}}(?![0-9])")
_PLATFORMS = ("抖音", "快手", "小红书", "微博", "飞机", "tg", "telegram")
_CONTACT_HINT = re.compile(r"微信|qq|v[:=]|q群|" + "|".join(_PLATFORMS))
_DIGIT_RUN = re.compile(r"[0-9]{10}")
_WXID = re.compile(r"wxid[_-]?[a-z0-9]{4,}")
_PHONES = (
    re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])"),  # mobile
    re.compile(r"(?<![0-9])[48]00[0-9]{7}(?![0-9])"),  # 400 / 800 hotlines
    re.compile(r"(?<![0-9])0[1-9][0-9]{1,2}[2-8][0-9]{6,7}(?![0-9])"),  # landline with area code
)


@dataclass(frozen=True, slots=True)
class Signal:
    """A finding; `space` says which form of the text `start`/`end` index."""

    rule: str
    category: Category
    space: Space
    start: int
    end: int
    strong: bool
    tag: str | None = None
    carrier: bool = False
    quotable: bool = False
    detail: str = ""


@dataclass(slots=True)
class Message:
    """One message as the detectors see it; `links` and `matches` are computed once."""

    norm: Normalized
    kind: Kind
    url: str | None
    title: str | None
    length: int
    matches: list[LexiconMatch]
    settings: ModerationSettings
    links: list[FoundLink] = field(default_factory=list)

    def target(self, space: Space) -> str:
        if space == "original":
            return self.norm.original
        return self.norm.compact if space == "compact" else self.norm.text


def banned_words(rule_of: dict[Category, str], message: Message) -> Sequence[Signal]:
    """Banned words (terms without a tag), each reported under the rule of its category."""
    quotable = message.settings.quotable_categories
    return [
        Signal(
            rule_of[m.term.category],
            m.term.category,
            "compact",
            m.start,
            m.end,
            strong=True,
            quotable=m.term.category in quotable,
            detail=f"banned word {m.term.term}",
        )
        for m in message.matches
        if m.term.tag is None and m.term.category in rule_of
    ]


def cues(message: Message) -> list[Signal]:
    """Lexicon cues (terms with a tag): weak signals for combination rules."""
    quotable = message.settings.quotable_categories
    return [
        Signal(
            f"cue.{m.term.tag}",
            m.term.category,
            "compact",
            m.start,
            m.end,
            strong=False,
            tag=m.term.tag,
            quotable=m.term.category in quotable,
            detail=f"{m.term.tag} cue {m.term.term}",
        )
        for m in message.matches
        if m.term.tag is not None
    ]


def evasions(message: Message, rule_id: str, skip_tag: str) -> list[Signal]:
    """Cues written with junk inside (微🌸信, 代\u200d购): hiding a word shows intent."""
    if _JUNK.search(message.norm.original) is None:
        return []
    signals: list[Signal] = []
    for match in message.matches:
        term = match.term
        if term.tag is None or term.tag == skip_tag:
            continue
        start, end = message.norm.span("compact", match.start, match.end)
        if _has_junk(message.norm.original[start:end]):
            signals.append(
                Signal(
                    rule_id,
                    term.category,
                    "original",
                    start,
                    end,
                    strong=True,
                    tag=term.tag,
                    carrier=term.category == "ad",
                    detail=f"{term.term} written with separators",
                )
            )
    return signals


def _has_junk(written: str) -> bool:
    return _JUNK.search(written) is not None


@dataclass(frozen=True, slots=True)
class RegexSpec:
    """A regex rule flattened once per checker (pydantic attribute access is slow per message)."""

    rule: str
    category: Category
    pattern: re.Pattern[str]
    target: Space
    tag: str | None
    quotable: bool
    detail: str
    requires: tuple[str, ...]

    @classmethod
    def of(cls, rule: RegexRule) -> RegexSpec:
        detail = rule.description or f"pattern {rule.id}"
        return cls(
            rule.id,
            rule.category,
            rule.compiled,
            rule.target,
            rule.tag,
            rule.quotable,
            detail,
            rule.requires,
        )

    def find(self, text: str) -> list[Signal]:
        signals: list[Signal] = []
        for match in self.pattern.finditer(text):
            if match.end() > match.start():
                signals.append(
                    Signal(
                        self.rule,
                        self.category,
                        self.target,
                        match.start(),
                        match.end(),
                        strong=self.tag is None,
                        tag=self.tag,
                        quotable=self.quotable,
                        detail=self.detail,
                    )
                )
                if len(signals) >= _MAX_MATCHES_PER_RULE:
                    break
        return signals


def _union(patterns: Sequence[str]) -> re.Pattern[str] | None:
    try:
        return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))
    except re.error:  # e.g. two patterns with the same group name: no gate, same result
        return None


@dataclass(frozen=True, slots=True)
class RegexRules:
    """All regex rules of a checker, gated so a message that can match none costs one search.

    Rules with `requires` wait for one of their words in the compact text (one search of all
    the words together); the others sit behind one search of their union per form of the text.
    """

    gated: tuple[RegexSpec, ...]
    trigger: re.Pattern[str] | None
    always: tuple[tuple[Space, re.Pattern[str] | None, tuple[RegexSpec, ...]], ...]

    @classmethod
    def of(cls, specs: Sequence[RegexSpec]) -> RegexRules:
        gated = tuple(spec for spec in specs if spec.requires)
        words = sorted({w for spec in gated for w in spec.requires}, key=len, reverse=True)
        trigger = re.compile("|".join(map(re.escape, words))) if words else None
        always: list[tuple[Space, re.Pattern[str] | None, tuple[RegexSpec, ...]]] = []
        for space in _SPACES:
            group = tuple(s for s in specs if not s.requires and s.target == space)
            if group:
                always.append((space, _union([s.pattern.pattern for s in group]), group))
        return cls(gated, trigger, tuple(always))

    def __call__(self, message: Message) -> Sequence[Signal]:
        signals: list[Signal] = []
        compact = message.norm.compact
        if self.trigger is not None and self.trigger.search(compact) is not None:
            for spec in self.gated:
                if any(word in compact for word in spec.requires):
                    signals += spec.find(message.target(spec.target))
        for space, gate, group in self.always:
            text = message.target(space)
            if gate is None or gate.search(text) is not None:
                signals += [signal for spec in group for signal in spec.find(text)]
        return signals


def links(rule: LinkRule, message: Message, *, policy: DomainPolicy) -> Sequence[Signal]:
    if not message.links and not message.url:
        return ()
    found: list[tuple[str, Space, int, int]] = [
        (link.host, "text", link.start, link.end) for link in message.links
    ]
    if message.url and (host := host_of_url(message.url)):
        found.append((host, "original", 0, 0))
    signals: list[Signal] = []
    for host, space, start, end in found:
        kind, detail = policy.classify(host)
        if kind is LinkKind.WHITELISTED:
            continue
        lookalike = kind is LinkKind.LOOKALIKE and rule.detect_lookalikes
        category = rule.lookalike_category if lookalike else rule.category
        signals.append(
            Signal(rule.id, category, space, start, end, True, "link", True, detail=detail)
        )
    return signals


def contacts(rule: ContactRule, message: Message) -> Sequence[Signal]:
    text, compact = message.norm.text, message.norm.compact
    found: list[tuple[Space, re.Match[str]]] = []
    if "wxid" in text:
        found += [("text", m) for m in _WXID.finditer(text)]
    if _CONTACT_HINT.search(text) is not None:
        found += [("text", m) for m in _CONTACT_ID.finditer(text)]
        found += [("compact", m) for m in _CONTACT_NUMBER.finditer(compact)]
    return [
        Signal(
            rule.id,
            rule.category,
            space,
            m.start(),
            m.end(),
            True,
            "contact",
            True,
            False,
            "contact id",
        )
        for space, m in found[:_MAX_MATCHES_PER_RULE]
    ]


def phones(rule: PhoneRule, message: Message) -> Sequence[Signal]:
    compact = message.norm.compact
    if _DIGIT_RUN.search(compact) is None:
        return ()
    allowed = message.settings.phone_whitelist
    return [
        Signal(
            rule.id,
            rule.category,
            "compact",
            m.start(),
            m.end(),
            rule.alone,
            "phone",
            True,
            False,
            "phone number",
        )
        for pattern in _PHONES
        for m in pattern.finditer(compact)
        if m.group() not in allowed
    ]


def message_kind(
    rule: MessageKindRule, message: Message, *, policy: DomainPolicy
) -> Sequence[Signal]:
    if message.kind not in rule.kinds:
        return ()
    if message.title and message.title in message.settings.allowed_mini_programs:
        return ()
    host = host_of_url(message.url) if message.url else None
    if host is not None and policy.is_whitelisted(host):
        return ()
    detail = f"{message.kind.value} message" + (f" {message.title!r}" if message.title else "")
    return [Signal(rule.id, rule.category, "original", 0, 0, True, "card", True, detail=detail)]


def repetition(rule: RepetitionRule, message: Message) -> Sequence[Signal]:
    text = message.norm.text
    size = len(text)
    if size < rule.min_chars:
        return ()
    # Cheap tests first: in a repetitive text the middle character comes back within one unit,
    # and a bounded prefix has few distinct characters ("+ 1" allows for a space).
    middle = size // 2
    if text.find(text[middle], middle + 1, middle + rule.max_unit + 2) < 0:
        return ()
    head = text[:40]
    if len(set(head)) > rule.max_distinct_ratio * len(head) + 1:
        return ()
    text = "".join(text.split())
    size = len(text)
    if size < rule.min_chars or len(set(text)) > rule.max_distinct_ratio * size:
        return ()
    for unit in range(1, min(rule.max_unit, size // 3) + 1):
        same = sum(1 for a, b in zip(text, text[unit:], strict=False) if a == b)
        if same >= 0.85 * (size - unit):
            detail = f"{text[:unit]!r} repeated {size // unit} times"
            end = len(message.norm.original)
            return [Signal(rule.id, rule.category, "original", 0, end, True, detail=detail)]
    return ()


def overlong(rule: OverlongRule, message: Message) -> Sequence[Signal]:
    if message.length <= rule.max_chars:
        return ()
    detail = f"{message.length} characters (limit {rule.max_chars})"
    return [Signal(rule.id, rule.category, "original", 0, 0, True, detail=detail)]
