"""Fixtures for the moderation engine: the shipped rules, a checker for an example shop, and a
factory for small rule files. Nothing here touches the database."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from typing import Any, TypeAlias

import pytest

from app.moderation.engine import ContentChecker, build_lexicon
from app.moderation.rules import RuleSet, default_rules_path, load_rules, rules_from_data

SHOP_HOST = "shop.example.com"
SHOP_HOTLINE = "400-800-1234"

RulesFactory: TypeAlias = Callable[[str], RuleSet]

# The smallest valid file: one ladder and one rule; tests append what they need.
MINIMAL = """
[ladders.default]
steps = [{ at = 1, actions = ["warn"] }]

[[rules]]
id = "banned"
detector = "lexicon"
categories = ["ad", "scam", "abuse", "spam", "other"]
"""


def shipped_data() -> dict[str, Any]:
    return tomllib.loads(default_rules_path().read_text(encoding="utf-8"))


def shop_rules() -> RuleSet:
    """The shipped rules as a shop would configure them: its domain and hotline allowed."""
    data = shipped_data()
    data["settings"]["domain_whitelist"] = [SHOP_HOST]
    data["settings"]["phone_whitelist"] = [SHOP_HOTLINE]
    data["settings"]["allowed_mini_programs"] = ["示例花店"]
    return rules_from_data(data)


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    return shop_rules()


@pytest.fixture(scope="session")
def checker(rules: RuleSet) -> ContentChecker:
    return ContentChecker(rules, build_lexicon(rules))


@pytest.fixture
def make_rules() -> RulesFactory:
    """Load MINIMAL plus the given TOML (appended)."""

    def _make(extra: str) -> RuleSet:
        return load_rules(MINIMAL + extra)

    return _make
