"""Stored rule scopes and imported words: validation before storing, the version every process
follows, scopes resolved with the chat's profile from the database."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from app.clock import FixedClock
from app.db.models import Chat
from app.messages import ChatRef, Platform
from app.moderation.cache import RulesCache
from app.moderation.lexicon import LexiconTerm
from app.runtime import Runtime
from app.services import Services
from app.services.moderation_config import ModerationConfigService, ModerationError
from tests.moderation.db_helpers import in_services, put_scope, say


def _config_check(runtime: Runtime, text: str, cache: RulesCache | None = None) -> bool:
    """Judge `text` with the default scope, through `cache` (another process) if given."""

    def work(services: Services) -> bool:
        config = services.moderation.config
        if cache is not None:
            config = ModerationConfigService(services.session, cache, runtime.deps.clock)
        rules = config.scope_rules("bridge", None)
        return config.loaded().checker(rules).check(text).violation

    return in_services(runtime, work)


def test_a_change_reaches_every_process_at_its_next_message(runtime: Runtime) -> None:
    other_process = RulesCache()
    assert _config_check(runtime, "大家好加微信领福利", other_process)

    version = put_scope(runtime, "defaults", {"rules": {"banned_words.ad": {"enabled": False}}})

    assert version == 1
    assert not _config_check(runtime, "大家好加微信领福利", other_process)
    assert not _config_check(runtime, "大家好加微信领福利")


@pytest.mark.parametrize(
    ("scope", "document", "named"),
    [
        ("profile:core", {"rules": {"flood": {"max_messages": 1}}}, "profiles.core.rules.flood"),
        ("defaults", {"rules": {"no_such_rule": {"enabled": False}}}, "no_such_rule"),
        ("defaults", {"settings": {"max_scan_chars": 5}}, "max_scan_chars"),
        ("defaults", {"colour": "red"}, "colour"),
        ("group:g-001", {"profile": "vip"}, "no profile 'vip'"),
        ("defaults", {"texts": {"warn": "{nickname} 请注意"}}, "unknown placeholder"),
        ("profile:bad name", {}, "scope 'profile:bad name'"),
    ],
)
def test_a_bad_scope_is_refused_with_the_field_named_and_the_old_rules_kept(
    runtime: Runtime, scope: str, document: dict[str, object], named: str
) -> None:
    put_scope(runtime, "group:g-002", {"profile": "core"})
    before = in_services(runtime, lambda s: s.moderation.config.stored())

    with pytest.raises(ModerationError, match=named) as refused:
        put_scope(runtime, scope, document)

    assert refused.value.status == 422
    assert in_services(runtime, lambda s: s.moderation.config.version()) == 1
    assert in_services(runtime, lambda s: s.moderation.config.stored()) == before
    assert _config_check(runtime, "大家好加微信领福利")


def test_deleting_a_scope_brings_the_file_back(runtime: Runtime) -> None:
    put_scope(runtime, "profile:core", {"description": "only mine"})

    deleted = in_services(runtime, lambda s: s.moderation.config.delete_scope("profile:core"))
    again = in_services(runtime, lambda s: s.moderation.config.delete_scope("profile:core"))

    assert (deleted, again) == (2, None)
    core = in_services(runtime, lambda s: s.moderation.config.loaded().rules.profiles["core"])
    assert "flood" in core.rules  # the file's profile again


def test_imported_words_are_judged_and_known_ones_skipped(runtime: Runtime) -> None:
    terms = [LexiconTerm("蓝莓团购", "ad"), LexiconTerm("藍莓 團購", "ad")]

    first = in_services(runtime, lambda s: s.moderation.config.import_terms(terms, source="t"))
    second = in_services(runtime, lambda s: s.moderation.config.import_terms(terms, source="t"))

    assert (first.added, first.existing) == (1, 1)  # the traditional spelling is the same word
    assert (second.added, second.existing) == (0, 2)
    assert in_services(runtime, lambda s: s.moderation.config.version()) == 1
    assert _config_check(runtime, "周末有蓝莓团购吗")


def test_an_overlong_word_is_refused(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="longer than"):
        in_services(
            runtime,
            lambda s: s.moderation.config.import_terms(
                [LexiconTerm("长" * 200, "ad")], source=None
            ),
        )


def test_a_group_uses_the_profile_its_chat_has_in_the_database(
    runtime: Runtime, clock: FixedClock
) -> None:
    phone = "我的电话 13912345678"
    say(runtime, clock, "你好", chat=_chat("g-prospect"))
    with runtime.deps.session_factory.begin() as session:
        session.execute(
            update(Chat).where(Chat.external_id == "g-prospect").values(profile="prospect")
        )

    def rules_of(chat_id: str) -> str:
        return in_services(
            runtime, lambda s: s.moderation.config.scope_rules("bridge", chat_id).scope
        )

    assert rules_of("g-prospect") == "profile prospect"
    assert say(runtime, clock, phone, chat=_chat("g-prospect")).routes == ("moderation",)
    assert say(runtime, clock, phone, chat=_chat("g-other")).routes != ("moderation",)

    put_scope(runtime, "group:g-prospect", {"whitelisted_members": ["u-9"]})
    assert rules_of("g-prospect") == "group g-prospect"
    prospect = in_services(
        runtime, lambda s: s.moderation.config.scope_rules("bridge", "g-prospect")
    )
    assert prospect.settings.whitelisted_members == ("u-9",)
    assert any(r.id == "phones" and getattr(r, "alone", False) for r in prospect.rules)


def _chat(chat_id: str) -> ChatRef:
    return ChatRef(Platform.BRIDGE, chat_id, is_group=True, name=chat_id)
