"""The process-wide rules cache: rebuilt when the version or the file moves, never broken by a
bad file once it has rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.moderation.cache import RulesCache, RulesSnapshot
from app.moderation.lexicon import LexiconTerm
from app.moderation.overlay import StoredScopes
from app.moderation.rules import RuleConfigError, default_rules_path


@pytest.fixture
def rule_file(tmp_path: Path) -> Path:
    path = tmp_path / "moderation.toml"
    path.write_text(default_rules_path().read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _snapshot(version: int, *terms: str) -> RulesSnapshot:
    return RulesSnapshot(version, StoredScopes(), tuple(LexiconTerm(t, "ad") for t in terms))


def _touch(path: Path, text: str) -> None:
    stat = path.stat()
    path.write_text(text, encoding="utf-8")
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))


def test_rebuilds_only_when_the_version_moves(rule_file: Path) -> None:
    cache = RulesCache(rule_file)
    loads: list[int] = []

    def load(version: int, *terms: str) -> RulesSnapshot:
        loads.append(version)
        return _snapshot(version, *terms)

    first = cache.get(1, lambda: load(1))
    same = cache.get(1, lambda: load(1))
    newer = cache.get(2, lambda: load(2, "蓝莓团购"))

    assert first is same
    assert loads == [1, 2]
    assert newer.checker(newer.scope(())).check("蓝莓团购了").violation
    assert not first.checker(first.scope(())).check("蓝莓团购了").violation


def test_an_edited_file_is_picked_up(rule_file: Path) -> None:
    cache = RulesCache(rule_file)
    before = cache.get(0, lambda: _snapshot(0))
    text = rule_file.read_text(encoding="utf-8").replace(
        'group_rules_text = ""', 'group_rules_text = "新群规"'
    )

    _touch(rule_file, text)
    after = cache.get(0, lambda: _snapshot(0))

    assert before.rules.settings.group_rules_text == ""
    assert after.rules.settings.group_rules_text == "新群规"


def test_a_broken_file_keeps_the_rules_in_force(rule_file: Path) -> None:
    cache = RulesCache(rule_file)
    good = cache.get(0, lambda: _snapshot(0))

    _touch(rule_file, "[settings]\nmax_scan_chars = 1\n")
    kept = cache.get(1, lambda: _snapshot(1))

    assert kept.rules is good.rules
    assert kept.version == 1  # not retried at every message


def test_the_first_build_of_a_broken_file_fails_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "moderation.toml"
    broken.write_text("rules = 3", encoding="utf-8")

    with pytest.raises(RuleConfigError, match="rules"):
        RulesCache(broken).get(0, lambda: _snapshot(0))


def test_checkers_are_made_once_per_scope(rule_file: Path) -> None:
    loaded = RulesCache(rule_file).get(0, lambda: _snapshot(0))

    default = loaded.checker(loaded.scope(()))

    assert loaded.checker(loaded.scope(())) is default
    assert loaded.checker(loaded.rules.for_profile("core")) is not default
