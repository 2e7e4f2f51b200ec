"""Recent group messages in the database, for flood / repeat / spam-wave rules in any process.

Runs for every moderated group message, inside the inbox worker's transaction: `recent` gives
what the scope's activity rules need, then `record` adds the message — once per message key,
so a retried message is not counted twice. A transaction's messages are inserted together just
before it commits (one statement per batch); until then they are compared from memory. Every
200th row prunes rows older than the retention. Stored is only the text's similarity key
(letters and digits), not the message.

- Flood and repeats: the member's own last messages in the chat; read for all of a batch's
  senders in one query when the worker announced them (`expect`), else one query per message.
- Spam waves: everyone's similar texts, from the process's in-memory window
  (app/moderation/wave_window.py). On its first use in a transaction the window reads the rows
  committed since its last read, in any process; the transaction's own messages never enter
  it, so they vanish with a rollback.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, delete, or_, select
from sqlalchemy.orm import Session

from app.db.at_commit import before_commit
from app.db.models import ModerationActivity
from app.db.upsert import cached_statement, insert_ignore, one_of
from app.moderation.activity import RecentMessage
from app.moderation.rule_types import FloodRule, RepeatRule, SpamWaveRule
from app.moderation.rules import EffectiveRules
from app.moderation.wave_window import WaveEntry, WaveWindow

KEY_CHARS = 500
MIN_RETENTION = timedelta(hours=24)
PRUNE_EVERY = 200
_RowSelect = Select[int, int, int, str, datetime]


def length_range(length: int, min_similarity: float) -> tuple[int, int]:
    """Lengths another text can have and still reach `min_similarity` (fuzz.ratio bound)."""
    low = math.floor(length * min_similarity / (2 - min_similarity))
    high = math.ceil(length * (2 - min_similarity) / min_similarity)
    return low, high


class ActivityLog:
    """The `moderation_activity` table of one transaction."""

    def __init__(self, session: Session, window: WaveWindow) -> None:
        self.session = session
        self._window = window
        self._synced = False
        # This transaction's messages: inserted in one statement just before it commits (one
        # round trip per batch instead of one per message), compared from memory until then.
        self._pending: dict[str, WaveEntry] = {}
        self._pending_by_sender: dict[tuple[int, int], list[WaveEntry]] = {}
        self._pending_window = WaveWindow(capacity=window.capacity)
        # The batch's senders (`expect`): their own earlier rows are read in one query.
        self._expected: frozenset[tuple[int, int]] = frozenset()
        self._earliest: datetime | None = None
        self._own_since: datetime | None = None  # what the one query covers
        self._own_rows: dict[tuple[int, int], list[tuple[int, RecentMessage]]] = {}

    def expect(self, senders: Iterable[tuple[int, int]], earliest: datetime) -> None:
        """The (chat, member) pairs a batch will ask about, and its earliest message time."""
        self._expected = frozenset(senders)
        self._earliest = earliest

    def recent(
        self, rules: EffectiveRules, *, chat_pk: int, member_pk: int, text_key: str, at: datetime
    ) -> list[RecentMessage]:
        """Earlier messages the scope's activity rules may count (the current one excluded)."""
        own = [
            r.window_seconds for r in rules.activity_rules if isinstance(r, FloodRule | RepeatRule)
        ]
        found: dict[int, RecentMessage] = {}
        if own:
            since = at - timedelta(seconds=max(own))
            found.update(self._own(chat_pk, member_pk, since, at))
            found.update(
                (entry.id, _recent(entry))
                for entry in self._pending_by_sender.get((chat_pk, member_pk), ())
                if since <= entry.at <= at
            )
        for rule in rules.activity_rules:
            if isinstance(rule, SpamWaveRule) and len(text_key) >= rule.min_chars:
                found.update(self._wave(rule, chat_pk, text_key[:KEY_CHARS], at))
        return sorted(found.values(), key=lambda m: m.at)

    def record(
        self, *, message_key: str, chat_pk: int, member_pk: int, text_key: str, at: datetime
    ) -> None:
        """Add the message (stored when the transaction commits; a message key once)."""
        if message_key in self._pending:
            return
        if not self._pending:
            before_commit(self.session, self._flush)
        # Negative ids until stored: they only tell this transaction's messages apart.
        entry = WaveEntry(-1 - len(self._pending), chat_pk, member_pk, text_key[:KEY_CHARS], at)
        self._pending[message_key] = entry
        self._pending_by_sender.setdefault((chat_pk, member_pk), []).append(entry)
        self._pending_window.append(entry)

    def _flush(self) -> None:
        """Insert the transaction's messages (a message key recorded before is skipped);
        now and then prune rows older than the retention."""
        if not self._pending:
            return
        rows = [
            {
                "message_key": message_key,
                "chat_id": entry.chat_pk,
                "member_id": entry.member_pk,
                "text_key": entry.key,
                "key_length": len(entry.key),
                "at": entry.at,
            }
            for message_key, entry in self._pending.items()
        ]
        newest = max(entry.at for entry in self._pending.values())
        self._pending = {}
        self._pending_by_sender = {}
        self._pending_window = WaveWindow(capacity=self._window.capacity)
        ids = insert_ignore(
            self.session, ModerationActivity, rows, ["message_key"], ModerationActivity.id
        )
        if any(row_id % PRUNE_EVERY == 0 for row_id in ids):
            self.prune(newest - MIN_RETENTION)

    def prune(self, before: datetime) -> int:
        """Delete rows older than `before`; returns how many."""
        result = self.session.execute(
            delete(ModerationActivity).where(ModerationActivity.at < before)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _wave(
        self, rule: SpamWaveRule, chat_pk: int, text_key: str, at: datetime
    ) -> dict[int, RecentMessage]:
        self._sync()
        low, high = length_range(len(text_key), rule.min_similarity)
        found: dict[int, RecentMessage] = {}
        for window in (self._window, self._pending_window):
            entries = window.similar(
                text_key,
                lengths=(max(low, rule.min_chars), high),
                since=at - timedelta(seconds=rule.window_seconds),
                until=at,
                min_similarity=rule.min_similarity,
                chat_pk=None if rule.across_chats else chat_pk,
            )
            found.update((entry.id, _recent(entry)) for entry in entries)
        return found

    def _own(
        self, chat_pk: int, member_pk: int, since: datetime, until: datetime
    ) -> dict[int, RecentMessage]:
        """The member's stored rows in the chat at `since`..`until`: from the batch's one
        query when it covers them, else one query for this message."""
        pair = (chat_pk, member_pk)
        if pair in self._expected and self._earliest is not None:
            if self._own_since is None:
                self._own_since = self._earliest - (until - since)
                self._load_own()
            if since >= self._own_since:
                rows = self._own_rows.get(pair, ())
                return {row_id: row for row_id, row in rows if since <= row.at <= until}
        params = {"chat": chat_pk, "member": member_pk, "since": since, "until": until}
        return self._rows(cached_statement(self.session, "mod-own", _own), params)

    def _load_own(self) -> None:
        stmt = cached_statement(self.session, "mod-own-batch", _own_batch)
        params = {
            "members": sorted({member for _, member in self._expected}),
            "chats": sorted({chat for chat, _ in self._expected}),
            "since": self._own_since,
        }
        for row in self.session.execute(stmt, params):
            if (row.chat_id, row.member_id) not in self._expected:
                continue
            recent = RecentMessage(str(row.chat_id), str(row.member_id), row.text_key, row.at)
            self._own_rows.setdefault((row.chat_id, row.member_id), []).append((row.id, recent))

    def _sync(self) -> None:
        """Bring the process's window up to the committed rows, once per transaction."""
        if self._synced:
            return
        self._synced = True
        window = self._window
        if window.high_id is None:
            stmt = cached_statement(self.session, "mod-window-load", _window_load)
            window.load(self._entries(stmt, {"limit": window.capacity}))
        else:
            stmt = cached_statement(self.session, "mod-window-since", _window_since)
            params = {"high": window.high_id, "missing": window.missing_ids()}
            window.refresh(self._entries(stmt, params))

    def _entries(self, stmt: _RowSelect, params: dict[str, Any]) -> list[WaveEntry]:
        return [WaveEntry(*row) for row in self.session.execute(stmt, params)]

    def _rows(self, stmt: _RowSelect, params: dict[str, Any]) -> dict[int, RecentMessage]:
        return {
            row.id: RecentMessage(str(row.chat_id), str(row.member_id), row.text_key, row.at)
            for row in self.session.execute(stmt, params)
        }


def _recent(entry: WaveEntry) -> RecentMessage:
    return RecentMessage(str(entry.chat_pk), str(entry.member_pk), entry.key, entry.at)


def _columns() -> _RowSelect:
    return select(
        ModerationActivity.id,
        ModerationActivity.chat_id,
        ModerationActivity.member_id,
        ModerationActivity.text_key,
        ModerationActivity.at,
    )


def _own(dialect: str) -> _RowSelect:
    """The member's own messages in the chat (flood, repeats)."""
    return _columns().where(
        ModerationActivity.chat_id == bindparam("chat"),
        ModerationActivity.member_id == bindparam("member"),
        ModerationActivity.at >= bindparam("since"),
        ModerationActivity.at <= bindparam("until"),
    )


def _own_batch(dialect: str) -> _RowSelect:
    """The messages of a batch's senders in the batch's chats since a time: every (chat,
    member) pair of the batch, and maybe a few more, which the caller leaves out."""
    return _columns().where(
        one_of(dialect, ModerationActivity.member_id, "members"),
        one_of(dialect, ModerationActivity.chat_id, "chats"),
        ModerationActivity.at >= bindparam("since"),
    )


def _window_load(dialect: str) -> _RowSelect:
    """The newest rows, for a window's first read."""
    return _columns().order_by(ModerationActivity.id.desc()).limit(bindparam("limit"))


def _window_since(dialect: str) -> _RowSelect:
    """Rows after the window's newest id, and the ids it still waits for."""
    return _columns().where(
        or_(
            ModerationActivity.id > bindparam("high"),
            one_of(dialect, ModerationActivity.id, "missing"),
        )
    )
