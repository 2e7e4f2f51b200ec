"""What the moderation engine answers: categories, hits and the verdict on one message.

Plain frozen values with no behaviour beyond ordering; the engine builds them, the moderation
service stores them as the reviewable record of a decision (rule id, category, span, matched text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

Category: TypeAlias = Literal["ad", "spam", "abuse", "scam", "other"]
# When several categories fit one message, the first in this order is reported.
CATEGORY_PRECEDENCE: tuple[Category, ...] = ("scam", "ad", "abuse", "spam", "other")


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


@dataclass(frozen=True, slots=True)
class ContentVerdict:
    """The content check of one message.

    `hits` are the rules that make it a violation; `signals` are weaker findings that did not
    (a cue word alone, a phone number alone, a banned word quoted in a warning) — kept so a
    reviewer sees why a message passed. `links` lists every host found, whitelisted or not.
    """

    violation: bool
    category: Category | None
    hits: tuple[Hit, ...]
    normalized: str
    signals: tuple[Hit, ...] = ()
    links: tuple[str, ...] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        """Ids of the rules that fired, in order of first appearance, without repeats."""
        return tuple(dict.fromkeys(hit.rule for hit in self.hits))
