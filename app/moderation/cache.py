"""The process-wide moderation rules cache: the rules, lexicon and checkers in force.

One `RulesCache` lives on `AppDeps` for the whole process. Before judging a message the
moderation service reads the rules version from the database (one primary-key read) and asks
the cache for rules of that version. The cache rebuilds — synchronously, under a lock, from a
snapshot the caller loads in its own transaction — when the version moved (an admin changed a
scope or imported words, in any process) or when config/moderation.toml changed on disk. So
every web process follows a change at its next message; nobody restarts anything.

A rebuild that fails validation (someone broke the file) keeps the rules in force and logs the
reason; only the very first build raises. Nothing here touches the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.moderation.engine import ContentChecker, build_lexicon
from app.moderation.lexicon import Lexicon, LexiconTerm
from app.moderation.overlay import StoredScopes, build_rules, parse_base
from app.moderation.rules import EffectiveRules, RuleConfigError, RuleSet, default_rules_path

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RulesSnapshot:
    """What the database holds: the rules version, stored scope documents, imported terms."""

    version: int
    stored: StoredScopes
    terms: tuple[LexiconTerm, ...] = ()


class LoadedRules:
    """One built rule set with its lexicon; checkers are made once per scope and reused."""

    def __init__(self, version: int, stamp: float, rules: RuleSet, lexicon: Lexicon) -> None:
        self.version = version
        self.stamp = stamp
        self.rules = rules
        self.lexicon = lexicon
        self._checkers: dict[str, ContentChecker] = {}
        self._lock = threading.Lock()

    def scope(self, keys: Sequence[str], profile: str | None = None) -> EffectiveRules:
        """The rules of a group (see `RuleSet.for_group`); no keys: the defaults."""
        return self.rules.for_group(keys, profile)

    def checker(self, scope: EffectiveRules) -> ContentChecker:
        """The content checker of a scope (built on first use)."""
        found = self._checkers.get(scope.scope)
        if found is None:
            with self._lock:
                found = self._checkers.get(scope.scope)
                if found is None:
                    found = self._checkers[scope.scope] = ContentChecker(scope, self.lexicon)
        return found


def _file_stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


@dataclass
class RulesCache:
    """Holds the `LoadedRules` in force; rebuilds when the version or the rule file moves."""

    path: Path = field(default_factory=default_rules_path)
    _current: LoadedRules | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def current(self) -> LoadedRules | None:
        return self._current

    def get(self, version: int, load: Callable[[], RulesSnapshot]) -> LoadedRules:
        """The rules for `version`; `load` reads the snapshot in the caller's transaction."""
        current = self._current
        stamp = _file_stamp(self.path)
        if current is not None and current.version >= version and current.stamp == stamp:
            return current
        with self._lock:
            current = self._current
            if current is None or current.version < version or current.stamp != stamp:
                current = self._rebuild(load(), stamp)
            return current

    def build(self, snapshot: RulesSnapshot) -> LoadedRules:
        """Build rules from the file and a snapshot (RuleConfigError when invalid)."""
        stamp = _file_stamp(self.path)
        base = parse_base(self._read())
        rules = build_rules(base, snapshot.stored)
        return LoadedRules(snapshot.version, stamp, rules, build_lexicon(rules, snapshot.terms))

    def base_data(self) -> dict[str, object]:
        """The rule file as data (the admin API shows what a stored scope replaces)."""
        return parse_base(self._read())

    def _read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleConfigError(f"moderation rules: cannot read {self.path}: {exc}") from None

    def _rebuild(self, snapshot: RulesSnapshot, stamp: float) -> LoadedRules:
        try:
            loaded = self.build(snapshot)
        except RuleConfigError as exc:
            current = self._current
            if current is None:
                raise
            _LOG.error("moderation rules not reloaded, the previous ones stay: %s", exc)
            kept = LoadedRules(snapshot.version, stamp, current.rules, current.lexicon)
            self._current = kept
            return kept
        self._current = loaded
        _LOG.info(
            "moderation rules built",
            extra={"key": f"version={snapshot.version} terms={len(loaded.lexicon)}"},
        )
        return loaded
