"""Recent group messages in the database, for flood / repeat / spam-wave rules in any process.

Runs for every moderated group message, inside the inbox worker's transaction: `recent` reads
what the scope's activity rules need (the member's last messages in the chat; similar-length
texts from everyone for spam waves), then `record` adds the message — once per message key, so a
retried message is not counted twice. Every 200th row prunes rows older than the retention.
Stored is only the text's similarity key (letters and digits), not the message.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.orm import Session

from app.db.models import ModerationActivity
from app.db.upsert import cached_statement, insert_ignore
from app.moderation.activity import RecentMessage
from app.moderation.rule_types import FloodRule, RepeatRule, SpamWaveRule
from app.moderation.rules import EffectiveRules

KEY_CHARS = 500
MIN_RETENTION = timedelta(hours=24)
PRUNE_EVERY = 200
WAVE_CANDIDATES = 2000  # the newest similar-length messages a spam wave is looked for in
_RowSelect = Select[int, int, int, str, datetime]


def length_range(length: int, min_similarity: float) -> tuple[int, int]:
    """Lengths another text can have and still reach `min_similarity` (fuzz.ratio bound)."""
    low = math.floor(length * min_similarity / (2 - min_similarity))
    high = math.ceil(length * (2 - min_similarity) / min_similarity)
    return low, high


class ActivityLog:
    """The `moderation_activity` table of one transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def recent(
        self, rules: EffectiveRules, *, chat_pk: int, member_pk: int, text_key: str, at: datetime
    ) -> list[RecentMessage]:
        """Earlier messages the scope's activity rules may count (the current one excluded)."""
        own = [r.window_seconds for r in rules.rules if isinstance(r, FloodRule | RepeatRule)]
        found: dict[int, RecentMessage] = {}
        if own:
            params = {
                "chat": chat_pk,
                "member": member_pk,
                "since": at - timedelta(seconds=max(own)),
                "until": at,
            }
            found.update(self._rows(cached_statement(self.session, "mod-own", _own), params))
        for rule in rules.rules:
            if isinstance(rule, SpamWaveRule) and len(text_key) >= rule.min_chars:
                found.update(self._wave(rule, chat_pk, text_key, at))
        return sorted(found.values(), key=lambda m: m.at)

    def record(
        self, *, message_key: str, chat_pk: int, member_pk: int, text_key: str, at: datetime
    ) -> bool:
        """Add the message; False when this message key was recorded before."""
        key = text_key[:KEY_CHARS]
        row = {
            "message_key": message_key,
            "chat_id": chat_pk,
            "member_id": member_pk,
            "text_key": key,
            "key_length": len(key),
            "at": at,
        }
        ids = insert_ignore(
            self.session, ModerationActivity, [row], ["message_key"], ModerationActivity.id
        )
        if ids and min(ids) % PRUNE_EVERY == 0:
            self.prune(at - MIN_RETENTION)
        return bool(ids)

    def prune(self, before: datetime) -> int:
        """Delete rows older than `before`; returns how many."""
        result = self.session.execute(
            delete(ModerationActivity).where(ModerationActivity.at < before)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _wave(
        self, rule: SpamWaveRule, chat_pk: int, text_key: str, at: datetime
    ) -> dict[int, RecentMessage]:
        low, high = length_range(len(text_key[:KEY_CHARS]), rule.min_similarity)
        params = {
            "since": at - timedelta(seconds=rule.window_seconds),
            "until": at,
            "low": max(low, rule.min_chars),
            "high": high,
            "chat": chat_pk,
        }
        key = ("mod-wave", rule.across_chats)
        stmt = cached_statement(self.session, key, lambda _: _wave(across=rule.across_chats))
        return self._rows(stmt, params)

    def _rows(self, stmt: _RowSelect, params: dict[str, Any]) -> dict[int, RecentMessage]:
        return {
            row.id: RecentMessage(str(row.chat_id), str(row.member_id), row.text_key, row.at)
            for row in self.session.execute(stmt, params)
        }


def _columns() -> _RowSelect:
    return select(
        ModerationActivity.id,
        ModerationActivity.chat_id,
        ModerationActivity.member_id,
        ModerationActivity.text_key,
        ModerationActivity.at,
    ).where(
        ModerationActivity.at >= bindparam("since"), ModerationActivity.at <= bindparam("until")
    )


def _own(dialect: str) -> _RowSelect:
    """The member's own messages in the chat (flood, repeats)."""
    return _columns().where(
        ModerationActivity.chat_id == bindparam("chat"),
        ModerationActivity.member_id == bindparam("member"),
    )


def _wave(*, across: bool) -> _RowSelect:
    """Similar-length messages from anyone (spam waves), newest first."""
    stmt = _columns().where(
        ModerationActivity.key_length.between(bindparam("low"), bindparam("high"))
    )
    if not across:
        stmt = stmt.where(ModerationActivity.chat_id == bindparam("chat"))
    return stmt.order_by(ModerationActivity.at.desc()).limit(WAVE_CANDIDATES)
