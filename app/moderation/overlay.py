"""Rule changes stored by the admin API, laid over the rule file (config/moderation.toml).

Three kinds of scope, each one JSON document:

* `defaults` — `{"settings": {…}, "ladders": {…}, "texts": {…}, "rules": {id: {changes}}}`:
  settings and texts change key by key, a ladder is replaced by name, a rule changes field by
  field (a rule id the file does not have, given with a `detector`, adds a rule);
* `profile:<name>` — a profile as in the file's `[profiles.<name>]` (replaces the file's);
* `group:<chat id>` — a group as in `[groups."<chat id>"]`, `profile` included (replaces).

Pure functions: the moderation config service reads the documents and the file, `build_rules`
validates the whole result, so a bad document is refused before it is stored.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, ValidationError

from app.moderation.rule_types import Frozen
from app.moderation.rules import RuleConfigError, RuleSet, rules_from_data

DEFAULTS = "defaults"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")


class DefaultsChanges(Frozen):
    """The shape of the `defaults` document (unknown keys are errors)."""

    settings: dict[str, Any] = Field(default_factory=dict)
    ladders: dict[str, dict[str, Any]] = Field(default_factory=dict)
    texts: dict[str, Any] = Field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredScopes:
    """Every stored document: the defaults (or None) and profiles and groups by name."""

    defaults: Mapping[str, Any] | None = None
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    groups: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def with_scope(self, scope: str, document: Mapping[str, Any] | None) -> StoredScopes:
        """A copy with one scope's document replaced (None removes it)."""
        kind, name = split_scope(scope)
        if kind == DEFAULTS:
            return StoredScopes(document, self.profiles, self.groups)
        target = dict(self.profiles if kind == "profile" else self.groups)
        if document is None:
            target.pop(name, None)
        else:
            target[name] = document
        if kind == "profile":
            return StoredScopes(self.defaults, target, self.groups)
        return StoredScopes(self.defaults, self.profiles, target)

    def get(self, scope: str) -> Mapping[str, Any] | None:
        kind, name = split_scope(scope)
        if kind == DEFAULTS:
            return self.defaults
        return (self.profiles if kind == "profile" else self.groups).get(name)


def split_scope(scope: str) -> tuple[str, str]:
    """("defaults", "") / ("profile", name) / ("group", key); RuleConfigError when malformed."""
    if scope == DEFAULTS:
        return DEFAULTS, ""
    kind, _, name = scope.partition(":")
    if kind not in ("profile", "group") or not _NAME.match(name):
        raise RuleConfigError(
            f"scope {scope!r}: expected defaults, profile:<name> or group:<chat id> "
            "(letters, digits and _.:@- only)"
        )
    return kind, name


def parse_base(text: str) -> dict[str, Any]:
    """The rule file as data; RuleConfigError for invalid TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleConfigError(f"moderation rules: invalid TOML: {exc}") from None


def compose(base: Mapping[str, Any], stored: StoredScopes) -> dict[str, Any]:
    """The file's data with every stored document applied (not yet validated)."""
    data = copy.deepcopy(dict(base))
    if stored.defaults is not None:
        _apply_defaults(data, stored.defaults)
    for section, documents in (("profiles", stored.profiles), ("groups", stored.groups)):
        merged = dict(data.get(section) or {})
        merged.update({name: copy.deepcopy(dict(doc)) for name, doc in documents.items()})
        data[section] = merged
    return data


def build_rules(base: Mapping[str, Any], stored: StoredScopes) -> RuleSet:
    """Compose and validate; `RuleConfigError` names the scope and field that is wrong."""
    return rules_from_data(compose(base, stored))


def _apply_defaults(data: dict[str, Any], document: Mapping[str, Any]) -> None:
    try:
        changes = DefaultsChanges.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise RuleConfigError(f"defaults: {problems}") from None
    data["settings"] = {**(data.get("settings") or {}), **changes.settings}
    data["texts"] = {**(data.get("texts") or {}), **changes.texts}
    data["ladders"] = {**(data.get("ladders") or {}), **changes.ladders}
    rules: list[dict[str, Any]] = [dict(rule) for rule in data.get("rules") or ()]
    positions = {rule.get("id"): index for index, rule in enumerate(rules)}
    for rule_id, rule_changes in changes.rules.items():
        if rule_changes.get("id", rule_id) != rule_id:
            raise RuleConfigError(f"defaults.rules.{rule_id}: an override cannot change the id")
        if rule_id in positions:
            rules[positions[rule_id]] = {**rules[positions[rule_id]], **rule_changes}
        elif "detector" in rule_changes:
            rules.append({**rule_changes, "id": rule_id})
        else:
            raise RuleConfigError(
                f"defaults.rules.{rule_id}: no rule with this id (give a detector to add one)"
            )
    data["rules"] = rules
