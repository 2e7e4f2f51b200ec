"""What the moderation engine answers: categories, hits and the verdict on one message.

Plain frozen values with no behaviour beyond ordering; the engine builds them, the moderation
service stores them as the reviewable record of a decision (rule id, category, span, matched text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeGuard

Category: TypeAlias = Literal["ad", "spam", "abuse", "scam", "other"]
# When several categories fit one message, the first in this order is reported.
CATEGORY_PRECEDENCE: tuple[Category, ...] = ("scam", "ad", "abuse", "spam", "other")


def is_category(value: str) -> TypeGuard[Category]:
    return value in CATEGORY_PRECEDENCE


def first_category(categories: set[Category] | frozenset[Category]) -> Category | None:
    """The category reported when all of `categories` apply (None when empty)."""
    return next((c for c in CATEGORY_PRECEDENCE if c in categories), None)


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule that matched: `start`/`end` index the original text (end exclusive).

    For rules about the whole message (flood, message kind, overlong) the span is (0, 0) and
    `matched` says what was counted.
    """

    rule: str
    category: Category
    start: int
    end: int
    matched: str
    detail: str = ""


@dataclass(slots=True)
class ContentVerdict:
    """The content check of one message (a value: never mutated after the check).

    Not `frozen` only for speed: one is built per message, and a frozen dataclass costs four
    times as much to construct.

    `hits` are the rules that make it a violation; `signals` are weaker findings that did not
    (a cue word alone, a phone number alone, a banned word quoted in a warning) — kept so a
    reviewer sees why a message passed. `links` lists every host found; `allowed_links` the
    whitelisted ones among them.
    """

    violation: bool
    category: Category | None
    hits: tuple[Hit, ...]
    normalized: str
    signals: tuple[Hit, ...] = ()
    links: tuple[str, ...] = ()
    allowed_links: tuple[str, ...] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        """Ids of the rules that fired, in order of first appearance, without repeats."""
        return tuple(dict.fromkeys(hit.rule for hit in self.hits))
