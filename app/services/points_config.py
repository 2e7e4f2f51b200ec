"""Points, levels and check-in rules from config/points.toml (texts zh-CN included).

Loaded once per process (`load_points_config`); nothing here touches the database. A group's
effective rules are the defaults, then its chat profile's overrides, then its own overrides.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from app.services.texts import TemplateTexts
from app.settings import CONFIG_DIR

POINTS_CONFIG_PATH = CONFIG_DIR / "points.toml"
MAX_STREAK_DAY = 3650
MAX_EARLY_MINUTES = 24 * 60


class Rules(BaseModel):
    """Earning rules of one group (check-in, streak bonuses, activity, make-up cards)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    checkin_enabled: bool = True
    checkin_points: int = Field(10, ge=0, le=10_000)
    streak_bonuses: dict[int, int] = Field(default_factory=lambda: {7: 20, 30: 100})
    streak_bonus_repeat: bool = True
    activity_enabled: bool = True
    activity_points: int = Field(2, ge=0, le=1_000)
    activity_min_length: int = Field(5, ge=1, le=500)
    activity_cooldown_seconds: int = Field(60, ge=0, le=86_400)
    activity_daily_cap: int = Field(40, ge=0, le=100_000)
    makeup_enabled: bool = True
    makeup_cost: int = Field(30, ge=1, le=100_000)
    makeup_per_month: int = Field(2, ge=0, le=31)

    @model_validator(mode="after")
    def _sane_bonuses(self) -> Self:
        check_streak_bonuses(self.streak_bonuses)
        return self


def check_streak_bonuses(bonuses: dict[int, int]) -> None:
    for day, points in bonuses.items():
        if not 1 <= day <= MAX_STREAK_DAY:
            raise ValueError(f"streak bonus day {day} must be between 1 and {MAX_STREAK_DAY}")
        if not 1 <= points <= 100_000:
            raise ValueError(f"streak bonus for day {day} must be 1..100000 points")


def streak_bonus(bonuses: dict[int, int], streak: int, *, repeat: bool) -> int:
    """Points for reaching `streak` consecutive days (every multiple of a day with `repeat`)."""
    if streak <= 0:
        return 0
    return sum(
        points
        for day, points in bonuses.items()
        if streak == day or (repeat and streak % day == 0)
    )


class Level(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    level: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=32)
    threshold: int = Field(ge=0)
    privileges: tuple[str, ...] = ()
    # Flash sales open this many minutes early for members at this level (0: no early access).
    flash_sale_early_minutes: int = Field(0, ge=0, le=MAX_EARLY_MINUTES)


class Expiry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    months: int = Field(12, ge=1, le=120)
    notice_days: int = Field(7, ge=0, le=28)


# Placeholders each text may use; a typo in config/points.toml fails at start, not in a group.
TEXT_FIELDS: dict[str, frozenset[str]] = {
    "checkin_ok": frozenset({"name", "rank", "points", "bonus_part", "streak", "balance"}),
    "streak_bonus_part": frozenset({"streak", "bonus"}),
    "checkin_again": frozenset({"name", "rank", "streak", "balance"}),
    "checkin_off": frozenset(),
    "makeup_ok": frozenset({"name", "day", "cost", "streak", "balance"}),
    "makeup_not_needed": frozenset({"name"}),
    "makeup_limit": frozenset({"name", "limit"}),
    "makeup_insufficient": frozenset({"name", "cost", "balance"}),
    "makeup_off": frozenset(),
    "balance": frozenset({"name", "balance", "level", "level_name", "next_part"}),
    "next_level_part": frozenset({"next_level", "next_name", "gap"}),
    "top_level_part": frozenset(),
    "levels_header": frozenset(),
    "level_line": frozenset({"level", "level_name", "threshold", "privileges"}),
    "levels_footer": frozenset({"level", "level_name", "score"}),
    "level_up": frozenset({"name", "level", "level_name", "privileges"}),
    "privileges_part": frozenset({"items"}),
    "flash_sale_early_privilege": frozenset({"minutes"}),
    "leaderboard_title": frozenset({"period"}),
    "leaderboard_line": frozenset({"rank", "name", "points"}),
    "leaderboard_me": frozenset({"name", "rank", "points"}),
    "leaderboard_me_none": frozenset({"name", "period"}),
    "leaderboard_empty": frozenset({"period"}),
    "period_week": frozenset(),
    "period_month": frozenset(),
    "period_all": frozenset(),
    "expiry_notice": frozenset({"name", "amount", "date", "months"}),
}


class PointsTexts(TemplateTexts):
    fields = TEXT_FIELDS


class PointsConfig(BaseModel):
    """Everything in config/points.toml, validated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_admin_delta: int = Field(100_000, ge=1, le=10_000_000)
    level_basis: Literal["earned", "balance"] = "earned"
    rules: Rules = Rules()
    profiles: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[str, Any]] = {}
    expiry: Expiry = Expiry()
    levels: tuple[Level, ...]
    reasons: dict[str, str] = {}
    texts: PointsTexts
    _rules_cache: dict[tuple[str | None, str | None], Rules] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _valid_levels_and_overrides(self) -> Self:
        thresholds = [level.threshold for level in self.levels]
        if not self.levels or thresholds[0] != 0:
            raise ValueError("levels: the first level must have threshold 0")
        if thresholds != sorted(set(thresholds)):
            raise ValueError("levels: thresholds must be strictly increasing")
        for scope in (*self.profiles.values(), *self.groups.values()):
            Rules.model_validate({**self.rules.model_dump(), **scope})
        self._no_hand_written_early_access()
        return self

    def _no_hand_written_early_access(self) -> None:
        """The early-access privilege line is generated from `flash_sale_early_minutes`
        (app/services/levels.py), so the text can never promise other minutes than the claim
        path grants. A line in `privileges` that reads like it (an older file) would be shown
        next to the generated one, or promise early access nobody gets: refuse it."""
        pattern = template_pattern(self.texts.templates["flash_sale_early_privilege"])
        for level in self.levels:
            for line in level.privileges:
                if pattern.fullmatch(re.sub(r"\s+", "", line)):
                    raise ValueError(
                        f"levels: Lv{level.level} lists {line!r} by hand; set "
                        "flash_sale_early_minutes on the level instead (the line is generated)"
                    )

    @property
    def flash_sale_early_lead(self) -> timedelta:
        """The longest flash-sale early access of any level: when a sale's first claim can
        happen, relative to its start."""
        return timedelta(minutes=max(level.flash_sale_early_minutes for level in self.levels))

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy (tests change a rule this way) with its own rules cache."""
        copy = super().model_copy(update=update, deep=deep)
        copy._rules_cache = {}
        return copy

    def rules_for(self, *, profile: str | None, group_key: str | None) -> Rules:
        """Defaults, then the profile's overrides, then the group's (`platform:chat_id`)."""
        cached = self._rules_cache.get((profile, group_key))
        if cached is None:
            cached = self._rules_cache[(profile, group_key)] = self._merge(profile, group_key)
        return cached

    def _merge(self, profile: str | None, group_key: str | None) -> Rules:
        patch: dict[str, Any] = {}
        if profile and profile in self.profiles:
            patch.update(self.profiles[profile])
        if group_key and group_key in self.groups:
            patch.update(self.groups[group_key])
        if not patch:
            return self.rules
        return Rules.model_validate({**self.rules.model_dump(), **patch})

    def reason_label(self, reason: str) -> str:
        return self.reasons.get(reason, reason)


def template_pattern(template: str) -> re.Pattern[str]:
    """A regex for what `template` renders to with any numbers filled in, whitespace
    removed (so "限时秒杀提前5分钟" matches "限时秒杀提前 {minutes} 分钟")."""
    literal = re.sub(r"\s+", "", template)
    parts = re.split(r"\{[^{}]*\}", literal)
    return re.compile(r"\d+".join(re.escape(part) for part in parts))


def parse_points_config(text: str) -> PointsConfig:
    data: dict[str, Any] = tomllib.loads(text)
    data["texts"] = {"templates": data.get("texts", {})}
    return PointsConfig.model_validate(data)


@lru_cache
def load_points_config(path: Path = POINTS_CONFIG_PATH) -> PointsConfig:
    """The points config (cached per path); a bad file raises ValueError with the reason."""
    try:
        return parse_points_config(path.read_text(encoding="utf-8"))
    except (ValidationError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path.name}: {error}") from None
