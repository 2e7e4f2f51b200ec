"""Rule configuration: the shipped file loads, bad files are refused by field, scopes stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.messages import Kind, Role
from app.moderation.rule_types import FloodRule, MessageKindRule, PhoneRule, RegexRule
from app.moderation.rules import (
    RuleConfigError,
    default_rules_path,
    load_rules,
    load_rules_file,
)
from tests.moderation.conftest import MINIMAL, RulesFactory

FLOOD = """
[[rules]]
id = "flood"
detector = "flood"
max_messages = 5
window_seconds = 10
"""


def test_the_shipped_rules_load() -> None:
    rules = load_rules_file(default_rules_path())
    assert {"links", "contacts", "flood", "banned_words.scam"} <= {r.id for r in rules.rules}
    assert rules.for_chat(None).ladder_for("flood").steps[0].actions == ("warn",)
    assert rules.lexicon.terms()


def test_the_shipped_whitelist_is_empty_until_configured() -> None:
    assert load_rules_file(default_rules_path()).settings.domain_whitelist == ()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            FLOOD.replace("max_messages = 5", "max_messages = 1"),
            r"rules\[1\] \(id 'flood'\)\.max_messages: Input should be greater than or equal to 2",
        ),
        (
            FLOOD.replace('detector = "flood"', 'detector = "floood"'),
            r"rules\[1\] \(id 'flood'\): Input tag 'floood' found using 'detector'",
        ),
        (
            FLOOD.replace("window_seconds = 10", "window_second = 10"),
            r"rules\[1\] \(id 'flood'\)\.window_second: Extra inputs are not permitted",
        ),
        (
            '[[rules]]\nid = "r"\ndetector = "regex"\ncategory = "ad"\npattern = "(a+)+"\n',
            r"rules\[1\] \(id 'r'\)\.pattern: nested quantifier",
        ),
        (
            '[[rules]]\nid = "r"\ndetector = "regex"\ncategory = "ad"\npattern = "\\\\b加\\\\b"\n',
            r"rules\[1\] \(id 'r'\)\.pattern: \\b does not work for Chinese",
        ),
        (
            '[[rules]]\nid = "r"\ndetector = "regex"\ncategory = "ads"\npattern = "x"\n',
            r"rules\[1\] \(id 'r'\)\.category: Input should be 'ad', 'spam'",
        ),
        (FLOOD + 'ladder = "harsh"\n', r"rule 'flood': no ladder named 'harsh'"),
        (FLOOD + FLOOD, r"rules: duplicate ids \['flood'\]"),
        ("[profiles.core.rules.nope]\nenabled = false\n", r"profiles.core.rules.nope: no rule"),
        (
            FLOOD + "[profiles.core.rules.flood]\nmax_messages = 0\n",
            r"profiles.core.rules.flood: max_messages: Input should be greater than or equal to 2",
        ),
        (
            FLOOD + '[profiles.core.rules.flood]\ndetector = "repeat"\n',
            r"cannot change id or detector",
        ),
        ('[groups."g-1"]\nprofile = "vip"\n', r"groups.g-1.profile: no profile 'vip'"),
        (
            '[ladders.bad]\nsteps = [{ at = 1, actions = ["deduct_points"] }]\n',
            r"ladders.bad.steps\[0\]: set `points` above 0 exactly when",
        ),
        (
            "[ladders.bad]\nexpire_after_days = 7\n"
            'steps = [{ at = 2, within_days = 30, actions = ["warn"] }]\n',
            r"within_days \(30.0\) is longer than expire_after_days \(7.0\)",
        ),
        (
            '[ladders.bad]\nsteps = [{ at = 1, actions = ["ban_forever"] }]\n',
            r"ladders.bad.steps\[0\].actions\[0\]: Input should be 'log', 'warn'",
        ),
        ('[settings]\ndomain_whitelist = ["https://shop.example.com/"]\n', r"is not a host name"),
        ('[settings]\nexempt_roles = ["king"]\n', r"settings.exempt_roles\[0\]"),
        ("[lexicon.ad]\nblock = ['！！']\n", r"term '！！' has no letters or digits"),
    ],
)
def test_bad_configuration_is_refused_with_the_field_named(
    make_rules: RulesFactory, extra: str, message: str
) -> None:
    with pytest.raises(RuleConfigError, match=message):
        make_rules(extra)


def test_invalid_toml_is_reported() -> None:
    with pytest.raises(RuleConfigError, match="invalid TOML"):
        load_rules("[[rules]\n")


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(RuleConfigError, match="cannot read"):
        load_rules_file(tmp_path / "missing.toml")


def test_regex_requires_are_normalised(make_rules: RulesFactory) -> None:
    rules = make_rules(
        '[[rules]]\nid = "r"\ndetector = "regex"\ncategory = "ad"\npattern = "X"\n'
        'requires = ["ＡＢ", "兼職"]\n'
    )
    (rule,) = [r for r in rules.rules if isinstance(r, RegexRule)]
    assert rule.requires == ("ab", "兼职")
    assert rule.compiled.pattern == "X"


SCOPES = (
    FLOOD
    + """
[[rules]]
id = "phones"
detector = "phones"

[[rules]]
id = "cards"
detector = "message_kinds"
kinds = ["card"]

[settings]
domain_whitelist = ["shop.example.com"]
whitelisted_members = ["u-vip"]

[profiles.core.rules.flood]
max_messages = 10
[profiles.prospect.rules.phones]
alone = true
[profiles.prospect.rules.cards]
enabled = false

[groups."g-core"]
profile = "core"
whitelisted_members = ["u-helper"]
domain_whitelist = ["blog.example.com"]
exempt_roles = ["owner"]
[groups."g-core".rules.flood]
window_seconds = 30
"""
)


def test_profiles_change_rules_by_id(make_rules: RulesFactory) -> None:
    rules = make_rules(SCOPES)
    core_flood = rules.for_profile("core").rule("flood")
    assert isinstance(core_flood, FloodRule)
    assert (core_flood.max_messages, core_flood.window_seconds) == (10, 10)
    prospect = rules.for_profile("prospect")
    phones = prospect.rule("phones")
    assert isinstance(phones, PhoneRule)
    assert phones.alone
    assert prospect.rule("cards") is None  # disabled rules are left out


def test_groups_stack_on_their_profile(make_rules: RulesFactory) -> None:
    rules = make_rules(SCOPES)
    group = rules.for_chat("g-core")
    flood = group.rule("flood")
    assert isinstance(flood, FloodRule)
    assert (flood.max_messages, flood.window_seconds) == (10, 30)
    assert group.settings.domain_whitelist == ("shop.example.com", "blog.example.com")
    assert group.settings.whitelisted_members == ("u-vip", "u-helper")


def test_unknown_chats_get_the_defaults(make_rules: RulesFactory) -> None:
    rules = make_rules(SCOPES)
    flood = rules.for_chat("g-other").rule("flood")
    assert isinstance(flood, FloodRule)
    assert flood.max_messages == 5
    cards = rules.for_chat(None).rule("cards")
    assert isinstance(cards, MessageKindRule)
    assert cards.kinds == (Kind.CARD,)


def test_exempt_roles_and_whitelisted_members(make_rules: RulesFactory) -> None:
    rules = make_rules(SCOPES)
    default, group = rules.for_chat(None), rules.for_chat("g-core")
    assert default.is_exempt(user_id="u-1", role=Role.ADMIN)
    assert default.is_exempt(user_id="u-1", role=Role.STAFF)
    assert not default.is_exempt(user_id="u-1", role=Role.MEMBER)
    assert default.is_exempt(user_id="u-vip", role=Role.MEMBER)
    assert not group.is_exempt(user_id="u-1", role=Role.ADMIN)  # the group exempts owners only
    assert group.is_exempt(user_id="u-helper", role=Role.MEMBER)


def test_ladder_for_an_unknown_rule_raises(make_rules: RulesFactory) -> None:
    with pytest.raises(KeyError):
        make_rules("").for_chat(None).ladder_for("nope")


def test_minimal_configuration_is_valid() -> None:
    rules = load_rules(MINIMAL)
    assert [r.id for r in rules.for_chat("any").rules] == ["banned"]


def test_for_group_tries_each_key_and_uses_the_chats_own_profile(
    make_rules: RulesFactory,
) -> None:
    rules = make_rules(SCOPES + '\n[groups."g-plain"]\nwhitelisted_members = ["u-x"]\n')

    plain_as_prospect = rules.for_group(("bridge:g-plain", "g-plain"), "prospect")
    phones = plain_as_prospect.rule("phones")

    assert isinstance(phones, PhoneRule)
    assert phones.alone  # the chat's profile from the database
    assert plain_as_prospect.settings.whitelisted_members == ("u-vip", "u-x")
    assert rules.for_group(("g-plain",), "prospect") is plain_as_prospect  # resolved once
    assert rules.for_group(("g-core",), "prospect") is rules.for_chat("g-core")  # its own profile
    assert rules.for_group(("g-none",), "prospect") is rules.for_profile("prospect")
    assert rules.for_group(("g-none",), "no-such-profile") is rules.for_chat(None)
    text = "群规文字"
    with_text = make_rules(SCOPES + f'\n[profiles.core]\ngroup_rules_text = "{text}"\n')
    assert with_text.for_group(("g-core",)).settings.group_rules_text == text
