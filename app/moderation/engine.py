"""The content check: one message in, one reviewable verdict out.

Runs for every group message (and for `qunyun moderation check` / `eval`); stateless and free of
side effects, so the same checker serves every message of a scope. Flood, repeats and new-member
rules need history and live in `activity`; escalation lives in `ladder`.

Order of judgement:
1. normalise (see `normalize`), find lexicon terms and links once;
2. run every enabled content rule → signals (strong, or weak cues with a tag);
3. a message that warns about a scam ("别信…刷单", quote cues) and carries no contact detail
   drops its quotable signals: quoting a banned word to warn others is allowed;
4. strong signals fire; combination rules fire when all their tag groups are present;
5. carriers take the message's purpose (a loan advert's WeChat id is scam, a 砍一刀 link spam);
6. the category is the first of scam → ad → abuse → spam → other among the hits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from typing import TypeAlias

from app.messages import Kind
from app.moderation import detectors as d
from app.moderation.lexicon import Lexicon, LexiconTerm
from app.moderation.links import DomainPolicy, find_links, host_of_url
from app.moderation.normalize import normalize
from app.moderation.rule_types import (
    CombinationRule,
    ContactRule,
    EvasionRule,
    LexiconRule,
    LinkRule,
    MessageKindRule,
    OverlongRule,
    PhoneRule,
    RegexRule,
    RepetitionRule,
    Rule,
)
from app.moderation.rules import EffectiveRules, RuleSet
from app.moderation.verdict import Category, ContentVerdict, Hit, first_category

_Detector: TypeAlias = Callable[[d.Message], Sequence[d.Signal]]
_MAX_HITS_PER_RULE = 10  # enough evidence for a reviewer; a flood of repeats adds nothing
_OTHER_DETECTED = (ContactRule, PhoneRule, RepetitionRule, OverlongRule)


def build_lexicon(rules: RuleSet, extra: Iterable[LexiconTerm] = ()) -> Lexicon:
    """The configured terms plus `extra` (imported words); a configured term keeps its entry."""
    config = rules.lexicon
    return Lexicon.from_terms([*config.terms(), *extra], innocent=config.innocent_compounds)


class ContentChecker:
    """Judges message content against one scope's rules; safe to share between tasks."""

    def __init__(self, rules: RuleSet | EffectiveRules, lexicon: Lexicon) -> None:
        self._rules = rules.for_chat(None) if isinstance(rules, RuleSet) else rules
        self._lexicon = lexicon
        settings = self._rules.settings
        enabled = self._rules.rules
        link_rule = next((r for r in enabled if isinstance(r, LinkRule)), None)
        self._policy = DomainPolicy(
            settings.domain_whitelist,
            short_hosts=link_rule.short_link_hosts if link_rule else (),
            brands=settings.brands,
            max_distance=link_rule.max_edit_distance if link_rule else 1,
        )
        self._max_chars = settings.max_scan_chars
        self._rule_of = {
            c: r.id for r in reversed(enabled) if isinstance(r, LexiconRule) for c in r.categories
        }
        self._detectors = self._bind_detectors(enabled)
        self._link_detectors = tuple(
            partial(d.links, r, policy=self._policy) for r in enabled if isinstance(r, LinkRule)
        )
        self._kind_detectors = tuple(
            partial(d.message_kind, r, policy=self._policy)
            for r in enabled
            if isinstance(r, MessageKindRule)
        )
        self._combinations = tuple(r for r in enabled if isinstance(r, CombinationRule))
        self._evasion = next((r for r in enabled if isinstance(r, EvasionRule)), None)

    @property
    def rules(self) -> EffectiveRules:
        return self._rules

    @property
    def policy(self) -> DomainPolicy:
        return self._policy

    def check(
        self,
        text: str,
        kind: Kind = Kind.TEXT,
        *,
        url: str | None = None,
        title: str | None = None,
    ) -> ContentVerdict:
        """Judge one message; `url`/`title` are those of link, mini-program and card messages."""
        message = self._message(text, kind, url, title)
        signals = self._collect(message)
        hosts: tuple[str, ...] = ()
        if message.links or url:
            found = [link.host for link in message.links]
            if url and (host := host_of_url(url)):
                found.append(host)
            hosts = tuple(dict.fromkeys(found))
        return self._judge(message, signals, hosts)

    def _bind_detectors(self, rules: tuple[Rule, ...]) -> tuple[_Detector, ...]:
        """Bind rules to detectors once, so judging a message does no dispatching.

        Regex rules share gates; banned words, links and message kinds run only when the message
        has lexicon matches, links or a non-text kind (see `_collect`).
        """
        detectors: list[_Detector] = []
        specs = [d.RegexSpec.of(r) for r in rules if isinstance(r, RegexRule)]
        if specs:
            detectors.append(d.RegexRules.of(specs))
        detectors += [self._detector(r) for r in rules if isinstance(r, _OTHER_DETECTED)]
        return tuple(detectors)

    def _detector(self, rule: Rule) -> _Detector:
        match rule:
            case ContactRule():
                return partial(d.contacts, rule)
            case PhoneRule():
                return partial(d.phones, rule)
            case RepetitionRule():
                return partial(d.repetition, rule)
            case OverlongRule():
                return partial(d.overlong, rule)
        raise TypeError(f"no content detector for {rule.detector!r}")

    def _message(self, text: str, kind: Kind, url: str | None, title: str | None) -> d.Message:
        settings = self._rules.settings
        norm = normalize(text if len(text) <= self._max_chars else text[: self._max_chars])
        matches = self._lexicon.find(norm)
        links = find_links(norm.text)
        return d.Message(norm, kind, url, title, len(text), matches, settings, links)

    def _collect(self, message: d.Message) -> list[d.Signal]:
        signals: list[d.Signal] = []
        if message.matches:
            signals += d.cues(message)
            signals += d.banned_words(self._rule_of, message)
        for detect in self._detectors:
            signals += detect(message)
        if message.links or message.url:
            for detect in self._link_detectors:
                signals += detect(message)
        if message.kind is not Kind.TEXT:
            for detect in self._kind_detectors:
                signals += detect(message)
        if self._evasion is not None and message.matches:
            quote_tag = message.settings.quote_tag
            signals.extend(d.evasions(message, self._evasion.id, quote_tag))
        return signals

    def _judge(
        self, message: d.Message, signals: list[d.Signal], hosts: tuple[str, ...]
    ) -> ContentVerdict:
        allowed = tuple(host for host in hosts if self._policy.is_whitelisted(host))
        if not signals:
            return ContentVerdict(False, None, (), message.norm.text, (), hosts, allowed)
        kept, quoted = self._split_quoted(message, signals)
        fired = [s for s in kept if s.strong]
        combined, used = self._combine(kept)
        fired = self._adopt_carriers(fired + combined, message.settings.carriers_follow)
        weak = [s for s in kept if not s.strong and id(s) not in used]
        quoted = [replace(s, detail=f"quoted in a warning: {s.detail}") for s in quoted]
        hits = _to_hits(message, fired)
        category = first_category({hit.category for hit in hits})
        return ContentVerdict(
            violation=bool(hits),
            category=category,
            hits=hits,
            normalized=message.norm.text,
            signals=_to_hits(message, weak + quoted),
            links=hosts,
            allowed_links=allowed,
        )

    @staticmethod
    def _split_quoted(
        message: d.Message, signals: list[d.Signal]
    ) -> tuple[list[d.Signal], list[d.Signal]]:
        quote_tag = message.settings.quote_tag
        warns = any(s.tag == quote_tag for s in signals)
        if not warns or any(s.carrier for s in signals):
            return signals, []
        return [s for s in signals if not s.quotable], [s for s in signals if s.quotable]

    def _combine(self, signals: list[d.Signal]) -> tuple[list[d.Signal], set[int]]:
        by_tag: dict[str, list[d.Signal]] = {}
        for signal in signals:
            if signal.tag is not None:
                by_tag.setdefault(signal.tag, []).append(signal)
        fired: list[d.Signal] = []
        used: set[int] = set()
        for rule in self._combinations:
            if not all(any(tag in by_tag for tag in group) for group in rule.all_of):
                continue
            for tag in dict.fromkeys(tag for group in rule.all_of for tag in group):
                for signal in by_tag.get(tag, ()):
                    used.add(id(signal))
                    fired.append(
                        replace(signal, rule=rule.id, category=rule.category, carrier=False)
                    )
        return fired, used

    @staticmethod
    def _adopt_carriers(fired: list[d.Signal], follow: tuple[Category, ...]) -> list[d.Signal]:
        purposes = {s.category for s in fired if not s.carrier and s.category in follow}
        purpose = first_category(purposes)
        if purpose is None:
            return fired
        return [replace(s, category=purpose) if s.carrier else s for s in fired]


def _to_hits(message: d.Message, signals: Iterable[d.Signal]) -> tuple[Hit, ...]:
    """Signals as hits in the original text; repeats dropped, at most a few per rule."""
    original = message.norm.original
    hits: dict[tuple[str, int, int, str], Hit] = {}
    per_rule: Counter[str] = Counter()
    for signal in signals:
        if per_rule[signal.rule] >= _MAX_HITS_PER_RULE:
            continue
        start, end = message.norm.span(signal.space, signal.start, signal.end)
        key = (signal.rule, start, end, signal.category)
        if key not in hits:
            per_rule[signal.rule] += 1
            matched = original[start:end]
            hits[key] = Hit(signal.rule, signal.category, start, end, matched, signal.detail)
    return tuple(hits.values())
