"""The typed pieces of a moderation rule set: action ladders and one model per detector.

Validated when rules load (config/moderation.toml, a profile or group override, later the admin
API); a bad value raises at load time with the field named, never while judging a message.
Regex patterns are compiled once here, after the safety check in `regex_safety`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)

from app.messages import Kind
from app.moderation.normalize import compact
from app.moderation.regex_safety import check_pattern
from app.moderation.verdict import Category

RuleId: TypeAlias = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Tag: TypeAlias = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
ActionKind: TypeAlias = Literal[
    "log", "warn", "deduct_points", "notify_admins", "request_removal", "blacklist"
]
TextSpace: TypeAlias = Literal["original", "text", "compact"]


class Frozen(BaseModel):
    """Base for config models: immutable, and unknown keys are errors (typos get caught)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class LadderStep(Frozen):
    """From the `at`-th violation within `within_days` (default: the ladder's expiry) on."""

    at: int = Field(ge=1)
    within_days: float | None = Field(default=None, gt=0)
    actions: tuple[ActionKind, ...] = Field(min_length=1)
    points: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _points_go_with_deduction(self) -> Self:
        if ("deduct_points" in self.actions) != (self.points > 0):
            raise ValueError("set `points` above 0 exactly when `actions` has deduct_points")
        return self


class Ladder(Frozen):
    """Escalation: violations older than `expire_after_days` no longer count."""

    expire_after_days: float = Field(default=30, gt=0)
    steps: tuple[LadderStep, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _steps_are_consistent(self) -> Self:
        thresholds = [step.at for step in self.steps]
        if len(set(thresholds)) != len(thresholds):
            raise ValueError(f"two steps share the same `at` ({thresholds})")
        for step in self.steps:
            if step.within_days is not None and step.within_days > self.expire_after_days:
                raise ValueError(
                    f"step at={step.at}: within_days ({step.within_days}) is longer than "
                    f"expire_after_days ({self.expire_after_days})"
                )
        return self


class RuleBase(Frozen):
    id: RuleId
    enabled: bool = True
    ladder: str = "default"
    text: str = ""  # posted with an @ to the member when the ladder says "warn"
    description: str = ""


class LexiconRule(RuleBase):
    """Banned words (lexicon terms without a tag) of the listed categories."""

    detector: Literal["lexicon"]
    categories: tuple[Category, ...] = Field(min_length=1)


class RegexRule(RuleBase):
    """A safe regex over one form of the text; with `tag` it is a cue, not a violation alone."""

    detector: Literal["regex"]
    category: Category
    pattern: str
    target: TextSpace = "text"
    tag: Tag | None = None
    quotable: bool = False  # dropped when the message warns about it ("别信…刷单")
    # Words one of which every match contains (letters/digits only): the rule is skipped, cheaply,
    # for messages without any of them. Empty: the rule always runs.
    requires: tuple[str, ...] = ()
    _compiled: re.Pattern[str] = PrivateAttr()

    @field_validator("pattern")
    @classmethod
    def _safe_pattern(cls, value: str) -> str:
        check_pattern(value)
        return value

    @field_validator("requires")
    @classmethod
    def _requires_are_words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        words = tuple(compact(word) for word in value)
        if not all(words):
            raise ValueError("every entry of requires needs letters or digits")
        return words

    def model_post_init(self, context: object, /) -> None:
        self._compiled = re.compile(self.pattern)

    @property
    def compiled(self) -> re.Pattern[str]:
        return self._compiled


class LinkRule(RuleBase):
    """Links to hosts outside the whitelist; short links; look-alikes of whitelisted brands."""

    detector: Literal["links"]
    category: Category = "ad"
    lookalike_category: Category = "scam"
    short_link_hosts: tuple[str, ...] = ()
    detect_lookalikes: bool = True
    max_edit_distance: int = Field(default=1, ge=0, le=3)


class ContactRule(RuleBase):
    """WeChat/QQ/other-platform ids after a contact word, wxid_…, contact words split by junk."""

    detector: Literal["contacts"]
    category: Category = "ad"


class PhoneRule(RuleBase):
    """Phone numbers (digits, separators, Chinese numerals); a cue unless `alone` is true."""

    detector: Literal["phones"]
    category: Category = "ad"
    alone: bool = False


class MessageKindRule(RuleBase):
    """Message types that are not allowed (mini-programs, contact cards, …)."""

    detector: Literal["message_kinds"]
    category: Category = "ad"
    kinds: tuple[Kind, ...] = Field(min_length=1)


class RepetitionRule(RuleBase):
    """One message made of one short unit over and over (收到请回复收到请回复…, 🌹🌹🌹…)."""

    detector: Literal["repetition"]
    category: Category = "spam"
    min_chars: int = Field(default=15, ge=4)
    max_distinct_ratio: float = Field(default=0.3, gt=0, le=1)
    max_unit: int = Field(default=12, ge=1, le=50)


class OverlongRule(RuleBase):
    detector: Literal["overlong"]
    category: Category = "spam"
    max_chars: int = Field(ge=1)


class EvasionRule(RuleBase):
    """A cue word written with junk inside (微🌸信, 代\u200d购) counts as a violation."""

    detector: Literal["evasion"]


class CombinationRule(RuleBase):
    """Fires when every group in `all_of` has a signal with one of its tags."""

    detector: Literal["combination"]
    category: Category
    all_of: tuple[tuple[Tag, ...], ...] = Field(min_length=1)

    @field_validator("all_of")
    @classmethod
    def _groups_not_empty(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        if any(not group for group in value):
            raise ValueError("every group in all_of needs at least one tag")
        return value


class FloodRule(RuleBase):
    """`max_messages` or more messages from one member within `window_seconds`."""

    detector: Literal["flood"]
    category: Category = "spam"
    max_messages: int = Field(ge=2)
    window_seconds: float = Field(gt=0)


class RepeatRule(RuleBase):
    """One member sends (nearly) the same text `count` times within `window_seconds`."""

    detector: Literal["repeat"]
    category: Category = "spam"
    count: int = Field(ge=2)
    window_seconds: float = Field(gt=0)
    min_chars: int = Field(default=4, ge=1)
    min_similarity: float = Field(default=0.9, gt=0, le=1)


class SpamWaveRule(RuleBase):
    """`members` different members send (nearly) the same text within `window_seconds`."""

    detector: Literal["spam_wave"]
    category: Category = "spam"
    members: int = Field(ge=2)
    window_seconds: float = Field(gt=0)
    min_chars: int = Field(default=10, ge=1)
    min_similarity: float = Field(default=0.9, gt=0, le=1)
    across_chats: bool = True


class NewMemberLinkRule(RuleBase):
    """Links from members who joined less than `hours` ago."""

    detector: Literal["new_member_links"]
    category: Category = "ad"
    hours: float = Field(gt=0)
    include_whitelisted: bool = False


ContentRule: TypeAlias = (
    LexiconRule
    | RegexRule
    | LinkRule
    | ContactRule
    | PhoneRule
    | MessageKindRule
    | RepetitionRule
    | OverlongRule
    | EvasionRule
    | CombinationRule
)
ActivityRule: TypeAlias = FloodRule | RepeatRule | SpamWaveRule | NewMemberLinkRule
Rule: TypeAlias = Annotated[ContentRule | ActivityRule, Field(discriminator="detector")]
