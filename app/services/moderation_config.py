"""Moderation rules and words in the database: stored scopes, imported terms, the version.

Runs inside a caller's transaction (the inbox worker for messages, an admin API request, the
`qunyun moderation` commands, the demo seeder) and never commits. Every change moves
`moderation_state.version` in the same transaction, so every process rebuilds its cached checker
at its next message (app/moderation/cache.py). A scope document is validated together with the
rule file and every other stored scope before anything is written: a bad one is refused with
the field named and the rules in force stay as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from app.clock import Clock
from app.db.models import Chat, ModerationScope, ModerationState, ModerationTerm
from app.db.upsert import cached_statement, insert_ignore
from app.moderation.cache import LoadedRules, RulesCache, RulesSnapshot
from app.moderation.lexicon import LexiconTerm, make_term
from app.moderation.normalize import compact
from app.moderation.overlay import DEFAULTS, StoredScopes, build_rules, split_scope
from app.moderation.rules import EffectiveRules, RuleConfigError

_STATE_ID = 1
_MAX_TERM = 191
_CHUNK = 1000


class ModerationError(Exception):
    """A request the moderation services refuse; `status` is the HTTP status to answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TermImport:
    added: int
    existing: int


def group_keys(platform: str, chat_id: str) -> tuple[str, ...]:
    """The keys a group's stored or configured rules may have: "<platform>:<id>", then "<id>"."""
    return (f"{platform}:{chat_id}", chat_id)


def group_scope(platform: str, chat_id: str) -> str:
    """The scope the admin API writes for a group (bridge groups by their bare chat id)."""
    return f"group:{chat_id}" if platform == "bridge" else f"group:{platform}:{chat_id}"


class ModerationConfigService:
    """Reads and changes the stored rules of one transaction."""

    def __init__(self, session: Session, cache: RulesCache, clock: Clock) -> None:
        self.session = session
        self.cache = cache
        self.clock = clock
        self._loaded: LoadedRules | None = None

    # -- reading -----------------------------------------------------------------------------
    def version(self) -> int:
        """The rules version (0 before the first change); read for every message."""
        found = self.session.scalar(cached_statement(self.session, "mod-version", _version))
        return int(found or 0)

    def loaded(self) -> LoadedRules:
        """The rules in force for the version this transaction sees, read once per service
        (the inbox worker builds one per batch: a change applies from the next batch)."""
        if self._loaded is None:
            self._loaded = self.cache.get(self.version(), self.snapshot)
        return self._loaded

    def scope_rules(self, platform: str, chat_id: str | None) -> EffectiveRules:
        """The effective rules of a group (or the defaults when `chat_id` is None)."""
        loaded = self.loaded()
        if chat_id is None:
            return loaded.scope(())
        return loaded.scope(group_keys(platform, chat_id), self._chat_profile(platform, chat_id))

    def snapshot(self) -> RulesSnapshot:
        terms = tuple(
            LexiconTerm(term, category)  # type: ignore[arg-type]  # validated on import
            for term, category in self.session.execute(
                select(ModerationTerm.term, ModerationTerm.category).order_by(ModerationTerm.id)
            )
        )
        return RulesSnapshot(self.version(), self.stored(), terms)

    def stored(self) -> StoredScopes:
        defaults: Mapping[str, Any] | None = None
        profiles: dict[str, Mapping[str, Any]] = {}
        groups: dict[str, Mapping[str, Any]] = {}
        for row in self.session.scalars(select(ModerationScope).order_by(ModerationScope.scope)):
            kind, name = split_scope(row.scope)
            if kind == DEFAULTS:
                defaults = row.document
            else:
                (profiles if kind == "profile" else groups)[name] = row.document
        return StoredScopes(defaults, profiles, groups)

    def file_document(self, scope: str) -> Mapping[str, Any] | None:
        """What config/moderation.toml says for a profile or group scope (None: nothing)."""
        kind, name = split_scope(scope)
        if kind == DEFAULTS:
            return None
        section = self.cache.base_data().get("profiles" if kind == "profile" else "groups")
        found = section.get(name) if isinstance(section, dict) else None
        return found if isinstance(found, dict) else None

    def term_count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(ModerationTerm)) or 0)

    # -- changing ----------------------------------------------------------------------------
    @staticmethod
    def check_scope(scope: str) -> None:
        """ModerationError (422) for a malformed scope name."""
        try:
            split_scope(scope)
        except RuleConfigError as exc:
            raise ModerationError(422, str(exc)) from None

    def put_scope(self, scope: str, document: Mapping[str, Any], *, by: str | None) -> int:
        """Validate and store one scope document; returns the new version."""
        self.check_scope(scope)
        self._lock()
        candidate = self.stored().with_scope(scope, dict(document))
        self._validate(candidate)
        now = self.clock.now()
        row = self.session.get(ModerationScope, scope)
        if row is None:
            self.session.add(
                ModerationScope(
                    scope=scope, document=dict(document), updated_at=now, updated_by=by
                )
            )
        else:
            row.document, row.updated_at, row.updated_by = dict(document), now, by
        self.session.flush()
        return self.bump()

    def delete_scope(self, scope: str) -> int | None:
        """Remove a stored scope (the file's version applies again); None if none was stored."""
        self.check_scope(scope)
        self._lock()
        if self.session.get(ModerationScope, scope) is None:
            return None
        self._validate(self.stored().with_scope(scope, None))
        self.session.execute(delete(ModerationScope).where(ModerationScope.scope == scope))
        return self.bump()

    def import_terms(self, terms: Sequence[LexiconTerm], *, source: str | None) -> TermImport:
        """Add banned words (a term whose normalised form is known already is skipped)."""
        rows: dict[str, dict[str, Any]] = {}
        now = self.clock.now()
        for term in terms:
            checked = make_term(term.term.strip(), term.category)
            key = compact(checked.term)
            if len(checked.term) > _MAX_TERM or len(key) > _MAX_TERM:
                raise ValueError(f"term {term.term[:20]!r}… is longer than {_MAX_TERM} characters")
            row = {"key": key, "term": checked.term, "category": checked.category}
            rows.setdefault(key, {**row, "source": source, "created_at": now})
        values = list(rows.values())
        added = 0
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            added += len(
                insert_ignore(self.session, ModerationTerm, chunk, ["key"], ModerationTerm.key)
            )
        if added:
            self.bump()
        return TermImport(added=added, existing=len(terms) - added)

    def bump(self) -> int:
        """Move the version (creating the state row on first use); returns the new version."""
        self._loaded = None
        now = self.clock.now()
        row = {"id": _STATE_ID, "version": 0, "updated_at": now}
        insert_ignore(self.session, ModerationState, [row], ["id"], ModerationState.id)
        self.session.execute(
            update(ModerationState)
            .where(ModerationState.id == _STATE_ID)
            .values(version=ModerationState.version + 1, updated_at=now)
        )
        return self.version()

    def _lock(self) -> None:
        """Serialise rule changes: lock the state row before reading what to change."""
        insert_ignore(
            self.session,
            ModerationState,
            [{"id": _STATE_ID, "version": 0, "updated_at": self.clock.now()}],
            ["id"],
            ModerationState.id,
        )
        self.session.scalar(
            select(ModerationState.version)
            .where(ModerationState.id == _STATE_ID)
            .with_for_update()
        )

    def _validate(self, stored: StoredScopes) -> None:
        try:
            build_rules(self.cache.base_data(), stored)
        except RuleConfigError as exc:
            raise ModerationError(422, str(exc)) from None

    def _chat_profile(self, platform: str, chat_id: str) -> str | None:
        return self.session.scalar(
            select(Chat.profile).where(Chat.platform == platform, Chat.external_id == chat_id)
        )


def _version(dialect: str) -> Select[int]:
    return select(ModerationState.version).where(ModerationState.id == _STATE_ID)
