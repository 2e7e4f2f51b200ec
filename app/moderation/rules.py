"""Moderation rules as configuration: defaults, profiles, per-group overrides, validation.

Loaded from config/moderation.toml plus the scopes admins store through the API (see `overlay`),
whenever either changes (see `cache`: a new `RuleSet` is built and swapped in, no restart).
`load_rules` raises `RuleConfigError` with the bad field named; a loaded `RuleSet` is immutable
and has every scope resolved, so `for_chat` is a dictionary lookup.

Scopes stack: the defaults, then the group's profile (e.g. core / active / prospect groups), then
the group's own overrides. Overrides change fields of existing rules by id; whitelists add up.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeAlias, get_args

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from app.messages import Role
from app.moderation.lexicon import LexiconTerm, make_term
from app.moderation.links import is_host_name
from app.moderation.rule_types import (
    FloodRule,
    Frozen,
    Ladder,
    RepeatRule,
    Rule,
    SpamWaveRule,
    Tag,
)
from app.moderation.texts import ModerationTexts
from app.moderation.verdict import Category

_RULE: TypeAdapter[Rule] = TypeAdapter(Rule)
_CATEGORIES: tuple[Category, ...] = get_args(Category)


class RuleConfigError(ValueError):
    """The rule configuration is invalid; the message names the field and the problem."""


def _host(value: str) -> str:
    host = value.strip().lower()
    if not is_host_name(host.removeprefix("*.")):
        raise ValueError(f"{value!r} is not a host name (write shop.example.com, no scheme/path)")
    return host


def _digits(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) < 5:
        raise ValueError(f"{value!r} is not a phone number")
    return digits


Host: TypeAlias = Annotated[str, AfterValidator(_host)]
PhoneNumber: TypeAlias = Annotated[str, AfterValidator(_digits)]


class ModerationSettings(Frozen):
    exempt_roles: tuple[Role, ...] = (Role.OWNER, Role.ADMIN, Role.STAFF)
    whitelisted_members: tuple[str, ...] = ()
    domain_whitelist: tuple[Host, ...] = ()
    brands: tuple[str, ...] = ()
    phone_whitelist: tuple[PhoneNumber, ...] = ()
    allowed_mini_programs: tuple[str, ...] = ()
    carriers_follow: tuple[Category, ...] = ("scam", "spam")
    quotable_categories: tuple[Category, ...] = ("ad", "scam")
    quote_tag: Tag = "warning"
    max_scan_chars: int = Field(default=4000, ge=100)
    # WeCom userids of the staff who get violation notices (app message); none: the console.
    notify_user_ids: tuple[str, ...] = ()
    # What 群规 answers in this scope; empty: `texts.group_rules`.
    group_rules_text: str = ""

    @field_validator("brands")
    @classmethod
    def _brands_are_distinctive(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        short = [brand for brand in value if len(brand) < 4]
        if short:
            raise ValueError(f"brand names need at least 4 characters: {short}")
        return value


class CategoryTerms(Frozen):
    block: tuple[str, ...] = ()
    cues: dict[Tag, tuple[str, ...]] = Field(default_factory=dict)


class LexiconConfig(Frozen):
    innocent_compounds: tuple[str, ...] = ()
    ad: CategoryTerms = CategoryTerms()
    scam: CategoryTerms = CategoryTerms()
    abuse: CategoryTerms = CategoryTerms()
    spam: CategoryTerms = CategoryTerms()
    other: CategoryTerms = CategoryTerms()

    @model_validator(mode="after")
    def _terms_are_valid(self) -> Self:
        self.terms()
        return self

    def terms(self) -> list[LexiconTerm]:
        """Every configured term: banned words first, then cues, category by category."""
        terms: list[LexiconTerm] = []
        for category in _CATEGORIES:
            section: CategoryTerms = getattr(self, category)
            terms += [make_term(word, category) for word in section.block]
            for tag, words in section.cues.items():
                terms += [make_term(word, category, tag) for word in words]
        return terms


class ScopeConfig(Frozen):
    """A profile or a group: rule changes by id, plus additions to the whitelists."""

    description: str = ""
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    exempt_roles: tuple[Role, ...] | None = None
    whitelisted_members: tuple[str, ...] = ()
    domain_whitelist: tuple[Host, ...] = ()
    phone_whitelist: tuple[PhoneNumber, ...] = ()
    group_rules_text: str | None = None


class GroupConfig(ScopeConfig):
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class EffectiveRules:
    """The rules that apply in one scope (all enabled rules, merged settings)."""

    scope: str
    settings: ModerationSettings
    rules: tuple[Rule, ...]
    ladders: Mapping[str, Ladder]
    # The flood, repeat and spam-wave rules, in order: every group message's activity check
    # walks these rather than all rules.
    activity_rules: tuple[FloodRule | RepeatRule | SpamWaveRule, ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        activity = tuple(
            rule for rule in self.rules if isinstance(rule, FloodRule | RepeatRule | SpamWaveRule)
        )
        object.__setattr__(self, "activity_rules", activity)

    def is_exempt(self, *, user_id: str, role: Role) -> bool:
        """Exempt roles and whitelisted members are never moderated."""
        return role in self.settings.exempt_roles or user_id in self.settings.whitelisted_members

    def rule(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)

    def ladder_for(self, rule_id: str) -> Ladder:
        """The escalation ladder of a rule (KeyError for an unknown rule id)."""
        rule = self.rule(rule_id)
        if rule is None:
            raise KeyError(rule_id)
        return self.ladders[rule.ladder]


class RuleSet(Frozen):
    """A whole moderation configuration, validated and with every scope resolved."""

    version: Literal[1] = 1
    settings: ModerationSettings = ModerationSettings()
    ladders: dict[str, Ladder] = Field(default_factory=dict)
    lexicon: LexiconConfig = LexiconConfig()
    rules: tuple[Rule, ...] = ()
    profiles: dict[str, ScopeConfig] = Field(default_factory=dict)
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    texts: ModerationTexts = ModerationTexts()
    _scopes: dict[str, EffectiveRules] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _resolve_scopes(self) -> Self:
        ids = [rule.id for rule in self.rules]
        duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicates:
            raise ValueError(f"rules: duplicate ids {duplicates}")
        self._scopes["default"] = self._resolve("default", [])
        for name, profile in self.profiles.items():
            overlay = [(f"profiles.{name}", profile)]
            self._scopes[f"profile:{name}"] = self._resolve(f"profile {name}", overlay)
        for chat_id, group in self.groups.items():
            self._scopes[f"group:{chat_id}"] = self._resolve_group(chat_id, group)
        return self

    def for_chat(self, chat_id: str | None) -> EffectiveRules:
        """The rules of a chat: its own scope if configured, else the defaults."""
        return self._scopes.get(f"group:{chat_id}") or self._scopes["default"]

    def for_group(self, keys: Sequence[str], profile: str | None = None) -> EffectiveRules:
        """The rules of a group known by any of `keys` (first match wins).

        `profile` is the profile the chat has in the database; it applies when the group's own
        config names none (or when there is no group config). An unknown profile is ignored.
        """
        profile = profile if profile in self.profiles else None
        for key in keys:
            group = self.groups.get(key)
            if group is None:
                continue
            if group.profile is not None or profile is None:
                return self._scopes[f"group:{key}"]
            return self._group_with_profile(key, group, profile)
        return self._scopes["default" if profile is None else f"profile:{profile}"]

    def _group_with_profile(self, key: str, group: GroupConfig, profile: str) -> EffectiveRules:
        scope_key = f"group:{key}@{profile}"
        found = self._scopes.get(scope_key)
        if found is None:
            try:
                found = self._resolve_group(key, group.model_copy(update={"profile": profile}))
            except ValueError:  # the group's changes do not fit that profile: use them alone
                found = self._scopes[f"group:{key}"]
            self._scopes[scope_key] = found
        return found

    def for_profile(self, name: str | None) -> EffectiveRules:
        """The rules of a profile (KeyError if unknown); None gives the defaults."""
        return self._scopes["default" if name is None else f"profile:{name}"]

    def _resolve_group(self, chat_id: str, group: GroupConfig) -> EffectiveRules:
        overlays: list[tuple[str, ScopeConfig]] = []
        if group.profile is not None:
            if group.profile not in self.profiles:
                known = sorted(self.profiles)
                raise ValueError(f"groups.{chat_id}.profile: no profile {group.profile!r} {known}")
            overlays.append((f"profiles.{group.profile}", self.profiles[group.profile]))
        overlays.append((f"groups.{chat_id}", group))
        return self._resolve(f"group {chat_id}", overlays)

    def _resolve(self, scope: str, overlays: list[tuple[str, ScopeConfig]]) -> EffectiveRules:
        rules = {rule.id: rule for rule in self.rules}
        settings = self.settings
        for where, overlay in overlays:
            for rule_id, changes in overlay.rules.items():
                rules[rule_id] = _override(where, rules, rule_id, changes)
            settings = _merge_settings(settings, overlay)
        for rule in rules.values():
            if rule.ladder not in self.ladders:
                known = sorted(self.ladders)
                raise ValueError(f"rule {rule.id!r}: no ladder named {rule.ladder!r} {known}")
        enabled = tuple(rule for rule in rules.values() if rule.enabled)
        return EffectiveRules(scope, settings, enabled, dict(self.ladders))


def _override(where: str, rules: dict[str, Rule], rule_id: str, changes: dict[str, Any]) -> Rule:
    if rule_id not in rules:
        raise ValueError(f"{where}.rules.{rule_id}: no rule with this id")
    base = rules[rule_id]
    if changes.get("id", rule_id) != rule_id or changes.get("detector", base.detector) != (
        base.detector
    ):
        raise ValueError(f"{where}.rules.{rule_id}: an override cannot change id or detector")
    merged = {**base.model_dump(), **changes}
    try:
        return _RULE.validate_python(merged)
    except ValidationError as exc:
        raise ValueError(f"{where}.rules.{rule_id}: {_describe(exc, merged)}") from None


def _merge_settings(settings: ModerationSettings, overlay: ScopeConfig) -> ModerationSettings:
    return ModerationSettings.model_validate(
        {
            **settings.model_dump(),
            "exempt_roles": overlay.exempt_roles or settings.exempt_roles,
            "whitelisted_members": settings.whitelisted_members + overlay.whitelisted_members,
            "domain_whitelist": settings.domain_whitelist + overlay.domain_whitelist,
            "phone_whitelist": settings.phone_whitelist + overlay.phone_whitelist,
            "group_rules_text": (
                settings.group_rules_text
                if overlay.group_rules_text is None
                else overlay.group_rules_text
            ),
        }
    )


def load_rules(text: str) -> RuleSet:
    """Parse and validate a TOML rule configuration; `RuleConfigError` names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleConfigError(f"moderation rules: invalid TOML: {exc}") from None
    return rules_from_data(data)


def rules_from_data(data: Mapping[str, Any]) -> RuleSet:
    """Validate already-parsed configuration (e.g. JSON stored by the admin API)."""
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RuleConfigError(f"moderation rules: {_describe(exc, data)}") from None


def load_rules_file(path: Path) -> RuleSet:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleConfigError(f"moderation rules: cannot read {path}: {exc.strerror}") from None
    return load_rules(text)


def default_rules_path() -> Path:
    """config/moderation.toml of this checkout."""
    return Path(__file__).resolve().parents[2] / "config" / "moderation.toml"


def _describe(exc: ValidationError, data: Mapping[str, Any]) -> str:
    """One line per problem: `rules[3] (id 'flood').max_messages: Input should be …`."""
    lines = []
    for error in exc.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        where = _location(error["loc"], data)
        lines.append(f"{where}: {message}" if where else message)
    return "; ".join(lines)


def _location(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    out = ""
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                out += f" (id {node['id']!r})"
            continue
        if isinstance(node, dict) and item not in node and node.get("detector") == item:
            continue  # pydantic's discriminator step, not a field
        out += f".{item}" if out else item
        node = node.get(item) if isinstance(node, dict) else None
    return out
