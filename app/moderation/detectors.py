"""Content detectors: each turns one configured rule and one message into signals.

Called by `ContentChecker.check` for every message, in rule order; pure functions over the
normalised message, no state and no I/O. A *signal* is a finding with a span: a strong one is a
violation by itself, a weak one (`tag` set) only counts through a combination rule.
*Carriers* (links, contact ids, phone numbers, cards) are how a message reaches people; they may
take the category of what the message is about (see `ModerationSettings.carriers_follow`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from app.messages import Kind
from app.moderation.lexicon import LexiconMatch
from app.moderation.links import DomainPolicy, FoundLink, LinkKind, host_of_url
from app.moderation.normalize import Normalized, Space
from app.moderation.rule_types import (
    ContactRule,
    LexiconRule,
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
_CLAUSE_PUNCT = frozenset("，。！？、；：,.!?;:…")

_CONTACT_WORD = "(?:微信|qq|抖音|快手|小红书|微博|telegram|tg|飞机)"
_ID_LABEL = "(?:号码?|id|账号|名|是|搜索?|搜一搜|同号|群号?)?"
# A WeChat-style id (6–20 characters, starting with a letter) after a contact word.
_CONTACT_ID = re.compile(
    rf"{_CONTACT_WORD}{_ID_LABEL}[\s:=]{{0,3}}[a-z][a-z0-9_-]{{5,19}}(?![a-z0-9_-])"
)
# A number after a contact word, on the compact form (separators and 汉字 digits already gone).
_CONTACT_NUMBER = re.compile(rf"{_CONTACT_WORD}{_ID_LABEL}[1-9][0-9]{{4,11}}(?![0-9])")
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


def banned_words(rule: LexiconRule, message: Message) -> Iterator[Signal]:
    quotable = message.settings.quotable_categories
    for match in message.matches:
        term = match.term
        if term.tag is None and term.category in rule.categories:
            yield Signal(
                rule.id,
                term.category,
                "compact",
                match.start,
                match.end,
                strong=True,
                quotable=term.category in quotable,
                detail=f"banned word {term.term}",
            )


def cues(message: Message) -> Iterator[Signal]:
    """Lexicon cues (terms with a tag): weak signals for combination rules."""
    quotable = message.settings.quotable_categories
    for match in message.matches:
        term = match.term
        if term.tag is not None:
            yield Signal(
                f"cue.{term.tag}",
                term.category,
                "compact",
                match.start,
                match.end,
                strong=False,
                tag=term.tag,
                quotable=term.category in quotable,
                detail=f"{term.tag} cue {term.term}",
            )


def evasions(message: Message, rule_id: str, skip_tag: str) -> Iterator[Signal]:
    """Cues written with junk inside (微🌸信, 代\u200d购): hiding a word shows intent."""
    for match in message.matches:
        term = match.term
        if term.tag is None or term.tag == skip_tag:
            continue
        start, end = message.norm.span("compact", match.start, match.end)
        if _has_junk(message.norm.original[start:end]):
            yield Signal(
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


def _has_junk(written: str) -> bool:
    return any(not ch.isalnum() and ch not in _CLAUSE_PUNCT for ch in written)


def regex(rule: RegexRule, message: Message) -> Iterator[Signal]:
    text = message.target(rule.target)
    for count, match in enumerate(rule.compiled.finditer(text)):
        if count >= _MAX_MATCHES_PER_RULE:
            break
        if match.end() > match.start():
            yield Signal(
                rule.id,
                rule.category,
                rule.target,
                match.start(),
                match.end(),
                strong=rule.tag is None,
                tag=rule.tag,
                quotable=rule.quotable,
                detail=rule.description or f"pattern {rule.id}",
            )


def links(rule: LinkRule, message: Message, policy: DomainPolicy) -> Iterator[Signal]:
    found: list[tuple[str, Space, int, int]] = [
        (link.host, "text", link.start, link.end) for link in message.links
    ]
    if message.url and (host := host_of_url(message.url)):
        found.append((host, "original", 0, 0))
    for host, space, start, end in found:
        kind, detail = policy.classify(host)
        if kind is LinkKind.WHITELISTED:
            continue
        lookalike = kind is LinkKind.LOOKALIKE and rule.detect_lookalikes
        category = rule.lookalike_category if lookalike else rule.category
        yield Signal(rule.id, category, space, start, end, True, "link", True, detail=detail)


def contacts(rule: ContactRule, message: Message) -> Iterator[Signal]:
    text, compact = message.norm.text, message.norm.compact
    found: list[tuple[Space, re.Match[str]]] = [("text", m) for m in _WXID.finditer(text)]
    if "微信" in text or "qq" in text or any(word in text for word in ("抖音", "快手", "小红书")):
        found += [("text", m) for m in _CONTACT_ID.finditer(text)]
        found += [("compact", m) for m in _CONTACT_NUMBER.finditer(compact)]
    for space, match in found[:_MAX_MATCHES_PER_RULE]:
        yield Signal(
            rule.id,
            rule.category,
            space,
            match.start(),
            match.end(),
            strong=True,
            tag="contact",
            carrier=True,
            detail="contact id",
        )


def phones(rule: PhoneRule, message: Message) -> Iterator[Signal]:
    compact = message.norm.compact
    allowed = message.settings.phone_whitelist
    for pattern in _PHONES:
        for match in pattern.finditer(compact):
            if match.group() in allowed:
                continue
            yield Signal(
                rule.id,
                rule.category,
                "compact",
                match.start(),
                match.end(),
                strong=rule.alone,
                tag="phone",
                carrier=True,
                detail="phone number",
            )


def message_kind(
    rule: MessageKindRule, message: Message, policy: DomainPolicy
) -> Iterator[Signal]:
    if message.kind not in rule.kinds:
        return
    if message.title and message.title in message.settings.allowed_mini_programs:
        return
    host = host_of_url(message.url) if message.url else None
    if host is not None and policy.is_whitelisted(host):
        return
    detail = f"{message.kind.value} message" + (f" {message.title!r}" if message.title else "")
    yield Signal(rule.id, rule.category, "original", 0, 0, True, "card", True, detail=detail)


def repetition(rule: RepetitionRule, message: Message) -> Iterator[Signal]:
    text = "".join(message.norm.text.split())
    size = len(text)
    if size < rule.min_chars or len(set(text)) > rule.max_distinct_ratio * size:
        return
    for unit in range(1, min(rule.max_unit, size // 3) + 1):
        same = sum(1 for a, b in zip(text, text[unit:], strict=False) if a == b)
        if same >= 0.85 * (size - unit):
            detail = f"{text[:unit]!r} repeated {size // unit} times"
            end = len(message.norm.original)
            yield Signal(rule.id, rule.category, "original", 0, end, True, detail=detail)
            return


def overlong(rule: OverlongRule, message: Message) -> Iterator[Signal]:
    if message.length > rule.max_chars:
        detail = f"{message.length} characters (limit {rule.max_chars})"
        yield Signal(rule.id, rule.category, "original", 0, 0, True, detail=detail)
