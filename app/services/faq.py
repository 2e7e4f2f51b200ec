"""The FAQ service: the knowledge base in the database, and deciding how to answer a message.

Runs inside a caller's transaction (the inbox worker for messages, an admin API request, the
`qunyun faq` commands, the demo seeder) and never commits. Every change to the entries moves the
KB version in `faq_state` in the same transaction, so every process rebuilds its index (see
`app.faq.cache`). Answering writes a `faq_hits` row (answered, or pointed back to an earlier
answer during the cooldown) or a `faq_misses` row (a question the KB could not answer; the
misses of a transaction are inserted together just before it commits).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db.at_commit import before_commit
from app.db.models import Chat, FaqEntry, FaqHit, FaqMiss, FaqState
from app.db.upsert import insert_ignore, insert_rows
from app.faq.cache import EntryRule, FaqIndexCache, KbSnapshot, LoadedIndex
from app.faq.config import FaqConfig
from app.faq.index import FaqMatch, KbEntry

_STATE_ID = 1
Loader = Callable[[], KbSnapshot]
_NORMALIZED_LENGTH = 255


class FaqInputError(ValueError):
    """An entry that cannot be stored (empty text, validity dates the wrong way round)."""


class FaqConflict(FaqInputError):
    """The entry id is already taken."""


class FaqNotFound(FaqInputError):
    """There is no entry with this id."""


@dataclass(frozen=True, slots=True)
class EntryInput:
    """The fields of an entry an operator sets; `scope_*` empty = every group."""

    external_id: str
    question: str
    answer: str
    similar_questions: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    scope_chats: tuple[int, ...] = ()
    scope_tags: tuple[str, ...] = ()
    enabled: bool = True
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def check(self) -> None:
        """Raise `FaqInputError` for an entry that must not be stored."""
        if not self.external_id.strip() or any(c.isspace() for c in self.external_id):
            raise FaqInputError("id must be non-empty and contain no spaces")
        if not self.question.strip() or not self.answer.strip():
            raise FaqInputError("question and answer must not be empty")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise FaqInputError("valid_until must be after valid_from")


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import changed."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        """Rows in the file."""
        return self.created + self.updated + self.unchanged


class Outcome(Enum):
    """What the FAQ handler should do with a message."""

    SILENT = "silent"
    ANSWER = "answer"
    COOLDOWN = "cooldown"
    HANDOFF = "handoff"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome, the reply text (if any) and the match behind it."""

    outcome: Outcome
    text: str = ""
    match: FaqMatch | None = None
    entry_id: str | None = None
    extras: dict[str, str] = field(default_factory=dict)


class FaqService:
    """Knowledge-base storage and answering for one transaction."""

    def __init__(
        self, session: Session, cache: FaqIndexCache, load_elsewhere: Loader | None = None
    ) -> None:
        self.session = session
        self._cache = cache
        self._load_elsewhere = load_elsewhere
        self._version: int | None = None  # read once per transaction (a batch of messages)
        self._misses: list[dict[str, Any]] = []  # inserted together just before the commit

    @property
    def config(self) -> FaqConfig:
        """The FAQ config in force."""
        return self._cache.config

    # -- the index -------------------------------------------------------------------------
    def loaded(self) -> LoadedIndex:
        """The index for the KB version this transaction saw first (rebuilt when it moved;
        a change committed elsewhere applies from the next transaction, e.g. the next batch)."""
        if self._version is None:
            self._version = kb_version(self.session)
        return self._cache.get(self._version, lambda: snapshot(self.session), self._load_elsewhere)

    def refresh(self) -> LoadedIndex:
        """Rebuild the index from this session now (call after the change committed)."""
        return self._cache.refresh(lambda: snapshot(self.session))

    # -- answering -------------------------------------------------------------------------
    def decide(
        self, text: str, *, chat_pk: int, member_pk: int, mentioned: bool, now: datetime
    ) -> Decision:
        """Answer, point back (cooldown), hand over (only when @-mentioned) or stay silent.

        Records a hit for answers and cooldowns, a miss for unanswered questions.
        """
        loaded = self.loaded()
        answering = loaded.config.answering
        rules = loaded.rules
        asks = loaded.index.rules.looks_like_question(text)
        if not mentioned and answering.answer_only_questions and not asks:
            return Decision(Outcome.SILENT)
        tags = _ChatTags(self.session, chat_pk)
        match = loaded.index.match(
            text, lambda entry_id: rules[entry_id].allows(chat_pk, tags, now)
        )
        if match.reason == "small_talk":
            return Decision(Outcome.SILENT, match=match)
        if match.entry_id is not None:
            return self._answer(loaded, match, text, chat_pk, member_pk, now)
        self._miss(loaded, text, chat_pk, member_pk, match, mentioned, now)
        if mentioned:
            return Decision(Outcome.HANDOFF, _handoff_text(loaded, match), match)
        return Decision(Outcome.SILENT, match=match)

    def _answer(
        self,
        loaded: LoadedIndex,
        match: FaqMatch,
        text: str,
        chat_pk: int,
        member_pk: int,
        now: datetime,
    ) -> Decision:
        assert match.entry_id is not None
        pk = loaded.rules[match.entry_id].pk
        answering = loaded.config.answering
        earlier = self._last_answer(
            chat_pk, pk, now - timedelta(minutes=answering.cooldown_minutes)
        )
        kind = "answer" if earlier is None else "cooldown"
        self.session.add(
            FaqHit(
                entry_id=pk,
                chat_id=chat_pk,
                member_id=member_pk,
                kind=kind,
                text=text[:2000],
                score=match.score,
                at=now,
            )
        )
        if earlier is not None:
            minutes = max(1, int((now - earlier).total_seconds() // 60))
            reply = answering.cooldown_reply.format(minutes=minutes)
            return Decision(Outcome.COOLDOWN, reply, match, match.entry_id)
        entry = loaded.index.entry(match.entry_id)
        answer = entry.answer if entry is not None else ""
        return Decision(Outcome.ANSWER, answer, match, match.entry_id)

    def _last_answer(self, chat_pk: int, entry_pk: int, since: datetime) -> datetime | None:
        return self.session.scalar(
            select(func.max(FaqHit.at)).where(
                FaqHit.chat_id == chat_pk,
                FaqHit.entry_id == entry_pk,
                FaqHit.kind == "answer",
                FaqHit.at >= since,
            )
        )

    def _miss(
        self,
        loaded: LoadedIndex,
        text: str,
        chat_pk: int,
        member_pk: int,
        match: FaqMatch,
        mentioned: bool,
        now: datetime,
    ) -> None:
        normalized = (loaded.index.rules.clean(text) or text)[:_NORMALIZED_LENGTH]
        if not self._misses:
            before_commit(self.session, self._insert_misses)
        self._misses.append(
            {
                "chat_id": chat_pk,
                "member_id": member_pk,
                "text": text[:2000],
                "normalized": normalized,
                "reason": match.reason,
                "score": match.score,
                "mentioned": mentioned,
                "at": now,
            }
        )

    def _insert_misses(self) -> None:
        rows, self._misses = self._misses, []
        insert_rows(self.session, FaqMiss.__table__, rows, "faq-misses", lambda _d, ins: ins)

    def last_miss(self, chat_pk: int, member_pk: int, since: datetime) -> str | None:
        """The member's latest unanswered question in this chat since a time, if any."""
        stored = self.session.execute(
            select(FaqMiss.text, FaqMiss.at)
            .where(FaqMiss.chat_id == chat_pk, FaqMiss.member_id == member_pk, FaqMiss.at >= since)
            .order_by(FaqMiss.at.desc(), FaqMiss.id.desc())
            .limit(1)
        ).first()
        for row in reversed(self._misses):  # this transaction's, newest first
            mine = (row["chat_id"], row["member_id"]) == (chat_pk, member_pk)
            if mine and row["at"] >= since and (stored is None or row["at"] >= stored.at):
                return str(row["text"])
        return None if stored is None else str(stored.text)

    # -- storage ---------------------------------------------------------------------------
    def get(self, external_id: str) -> FaqEntry | None:
        """The entry with this id, if any."""
        return self.session.scalar(select(FaqEntry).where(FaqEntry.external_id == external_id))

    def find(
        self, *, tag: str | None = None, q: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[FaqEntry]:
        """Entries in id order; `q` filters by a substring of the question or answer."""
        stmt = select(FaqEntry).order_by(FaqEntry.external_id)
        if q:
            stmt = stmt.where(FaqEntry.question.contains(q) | FaqEntry.answer.contains(q))
        rows = list(self.session.scalars(stmt).all())
        if tag:
            rows = [row for row in rows if tag in row.tags]
        return rows[offset : offset + limit]

    def create(self, data: EntryInput, *, now: datetime) -> FaqEntry:
        """Add a new entry; `FaqInputError` if the id is taken."""
        data.check()
        if self.get(data.external_id) is not None:
            raise FaqConflict(f"entry {data.external_id!r} already exists")
        row = FaqEntry(external_id=data.external_id, created_at=now, updated_at=now)
        _assign(row, data)
        self.session.add(row)
        self.session.flush()
        self.bump()
        return row

    def update(self, data: EntryInput, *, now: datetime) -> FaqEntry:
        """Replace an entry's fields; `FaqInputError` if there is no such entry."""
        data.check()
        row = self.get(data.external_id)
        if row is None:
            raise FaqNotFound(f"no entry {data.external_id!r}")
        _assign(row, data)
        row.updated_at = now
        self.bump()
        return row

    def delete(self, external_id: str) -> bool:
        """Remove an entry (its hits go with it); False if there was none."""
        row = self.get(external_id)
        if row is None:
            return False
        self.session.delete(row)
        self.bump()
        return True

    def import_entries(self, entries: Sequence[KbEntry], *, now: datetime) -> ImportResult:
        """Upsert by id: new ids are created, known ones get the file's texts and tags.

        Scope, enabled flag and validity of existing entries are kept (the CSV has no columns
        for them). Checks everything before writing; the caller's transaction makes it atomic.
        """
        existing = {
            row.external_id: row
            for row in self.session.scalars(
                select(FaqEntry).where(FaqEntry.external_id.in_([e.id for e in entries]))
            )
        }
        created = updated = unchanged = 0
        for entry in entries:
            row = existing.get(entry.id)
            if row is None:
                row = FaqEntry(external_id=entry.id, created_at=now, updated_at=now)
                _assign_texts(row, entry)
                self.session.add(row)
                created += 1
            elif _texts(row) != _kb_entry_texts(entry):
                _assign_texts(row, entry)
                row.updated_at = now
                updated += 1
            else:
                unchanged += 1
        if created or updated:
            self.session.flush()
            self.bump()
        return ImportResult(created, updated, unchanged)

    def export(self) -> list[KbEntry]:
        """Every entry (enabled or not) in id order, as the CSV writes them."""
        rows = self.session.scalars(select(FaqEntry).order_by(FaqEntry.external_id))
        return [to_kb_entry(row) for row in rows]

    def bump(self) -> int:
        """Move the KB version (every process rebuilds its index); returns the new version."""
        ensure_state(self.session)
        self.session.execute(
            update(FaqState)
            .where(FaqState.id == _STATE_ID)
            .values(kb_version=FaqState.kb_version + 1)
        )
        self._version = kb_version(self.session)
        return self._version


def _handoff_text(loaded: LoadedIndex, match: FaqMatch) -> str:
    """The hand-over reply, plus the entries the member may have meant (猜你想问)."""
    answering = loaded.config.answering
    questions = [
        f"「{entry.question}」"
        for candidate in match.candidates[: answering.suggestions]
        if candidate.score >= answering.suggestion_floor
        and (entry := loaded.index.entry(candidate.entry_id)) is not None
    ]
    if not questions:
        return answering.handoff_reply
    suggestion = answering.suggestion_text.format(questions="、".join(questions))
    return f"{answering.handoff_reply}\n{suggestion}"


class _ChatTags:
    """A chat's tags, read at most once and only if some entry is scoped by tag."""

    def __init__(self, session: Session, chat_pk: int) -> None:
        self._session = session
        self._chat_pk = chat_pk
        self._tags: frozenset[str] | None = None

    def __call__(self) -> frozenset[str]:
        if self._tags is None:
            tags = self._session.scalar(select(Chat.tags).where(Chat.id == self._chat_pk))
            self._tags = frozenset(tags or ())
        return self._tags


def ensure_state(session: Session) -> None:
    """Create the single `faq_state` row if it is missing."""
    insert_ignore(session, FaqState, [{"id": _STATE_ID, "kb_version": 0}], ["id"], FaqState.id)


def kb_version(session: Session) -> int:
    """The KB version this transaction sees (0 before the first change)."""
    value = session.scalar(select(FaqState.kb_version).where(FaqState.id == _STATE_ID))
    return int(value or 0)


def snapshot(session: Session) -> KbSnapshot:
    """The enabled entries and their rules, labelled with the version read before them."""
    version = kb_version(session)
    rows = session.scalars(
        select(FaqEntry).where(FaqEntry.enabled.is_(True)).order_by(FaqEntry.id)
    ).all()
    return KbSnapshot(
        version=version,
        entries=[to_kb_entry(row) for row in rows],
        rules={row.external_id: _rule(row) for row in rows},
    )


def to_kb_entry(row: FaqEntry) -> KbEntry:
    """The matcher's view of a stored entry."""
    return KbEntry(
        id=row.external_id,
        question=row.question,
        similar_questions=tuple(row.similar_questions or ()),
        answer=row.answer,
        tags=tuple(row.tags or ()),
    )


def _rule(row: FaqEntry) -> EntryRule:
    return EntryRule(
        pk=row.id,
        scope_chats=frozenset(int(pk) for pk in row.scope_chats or ()),
        scope_tags=frozenset(row.scope_tags or ()),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


def _assign(row: FaqEntry, data: EntryInput) -> None:
    row.question = data.question.strip()
    row.answer = data.answer.strip()
    row.similar_questions = _clean_list(data.similar_questions)
    row.tags = _clean_list(data.tags)
    row.scope_chats = sorted(set(data.scope_chats))
    row.scope_tags = _clean_list(data.scope_tags)
    row.enabled = data.enabled
    row.valid_from = data.valid_from
    row.valid_until = data.valid_until


def _assign_texts(row: FaqEntry, entry: KbEntry) -> None:
    question, similar, answer, tags = _kb_entry_texts(entry)
    row.question, row.similar_questions, row.answer, row.tags = question, similar, answer, tags
    if row.scope_chats is None:
        row.scope_chats, row.scope_tags, row.enabled = [], [], True


def _kb_entry_texts(entry: KbEntry) -> tuple[str, list[str], str, list[str]]:
    return (
        entry.question,
        _clean_list(entry.similar_questions),
        entry.answer,
        _clean_list(entry.tags),
    )


def _texts(row: FaqEntry) -> tuple[str, list[str], str, list[str]]:
    return (row.question, list(row.similar_questions), row.answer, list(row.tags))


def _clean_list(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def snapshot_loader(factory: sessionmaker[Session]) -> Loader:
    """A loader that reads the KB in its own transaction (for the background rebuild)."""

    def load() -> KbSnapshot:
        with factory() as session, session.begin():
            return snapshot(session)

    return load
