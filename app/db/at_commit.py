"""Writes a transaction makes at its end: `before_commit(session, flush)`.

Used by services that record something for every group message (moderation activity, FAQ
misses): they keep the rows in memory and insert them in one statement just before the inbox
worker's batch commits, instead of one round trip per message. A rollback discards them with
everything else. Changes nothing by itself.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session


def before_commit(session: Session, flush: Callable[[], None]) -> None:
    """Run `flush` once, inside the transaction, just before `session` next commits."""
    event.listen(session, "before_commit", lambda _session: flush(), once=True)
