"""Stored scope documents laid over the rule file: what each kind of scope changes."""

from __future__ import annotations

from typing import Any

import pytest

from app.moderation.overlay import StoredScopes, build_rules, compose, split_scope
from app.moderation.rules import RuleConfigError
from tests.moderation.conftest import shipped_data


def _base() -> dict[str, Any]:
    return shipped_data()


def test_defaults_change_settings_key_by_key_and_rules_field_by_field() -> None:
    stored = StoredScopes(
        defaults={
            "settings": {"domain_whitelist": ["shop.example.com"]},
            "rules": {"flood": {"max_messages": 8}},
        }
    )

    rules = build_rules(_base(), stored).for_chat(None)

    assert rules.settings.domain_whitelist == ("shop.example.com",)
    assert rules.settings.exempt_roles  # untouched keys stay
    flood = rules.rule("flood")
    assert flood is not None
    assert getattr(flood, "max_messages", None) == 8
    assert getattr(flood, "window_seconds", None) == 10


def test_a_new_rule_can_be_added_with_its_detector() -> None:
    stored = StoredScopes(
        defaults={
            "rules": {
                "ad.tea": {
                    "detector": "regex",
                    "category": "ad",
                    "pattern": "茶叶团购",
                    "text": "请勿发茶叶团购。",
                }
            }
        }
    )

    rules = build_rules(_base(), stored).for_chat(None)

    assert rules.rule("ad.tea") is not None


def test_profiles_and_groups_replace_the_files() -> None:
    base = _base()
    stored = StoredScopes(
        profiles={"core": {"description": "mine"}}, groups={"g-9": {"profile": "core"}}
    )

    data = compose(base, stored)

    assert data["profiles"]["core"] == {"description": "mine"}
    assert data["profiles"]["prospect"] == base["profiles"]["prospect"]
    assert data["groups"]["g-9"] == {"profile": "core"}
    assert "rules" in base["profiles"]["core"]  # the file's data is not changed


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        ({"rules": {"nope": {"enabled": False}}}, "defaults.rules.nope: no rule with this id"),
        ({"rules": {"flood": {"id": "other"}}}, "cannot change the id"),
        ({"setting": {}}, "defaults: setting: Extra inputs are not permitted"),
        ({"rules": {"flood": {"max_messages": 0}}}, "max_messages"),
    ],
)
def test_bad_defaults_name_the_problem(defaults: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleConfigError, match=message):
        build_rules(_base(), StoredScopes(defaults=defaults))


def test_scope_names() -> None:
    assert split_scope("defaults") == ("defaults", "")
    assert split_scope("profile:core") == ("profile", "core")
    assert split_scope("group:wecom_bot:wrk01") == ("group", "wecom_bot:wrk01")
    for bad in ("group:", "team:x", "profile:a b", "defaults:x"):
        with pytest.raises(RuleConfigError, match="expected defaults"):
            split_scope(bad)


def test_with_scope_replaces_and_removes() -> None:
    stored = StoredScopes().with_scope("group:g-1", {"profile": "core"})

    assert stored.get("group:g-1") == {"profile": "core"}
    assert stored.with_scope("group:g-1", None).get("group:g-1") is None
    assert stored.with_scope("defaults", {"settings": {}}).defaults == {"settings": {}}
