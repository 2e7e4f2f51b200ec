"""The inbox worker: turns stored callbacks into state changes and queued replies.

Runs in every web process (a background thread). Each inbox row is processed in ONE
transaction: claim the row, record chat/member activity, run the pipeline, write the outbox
rows, mark the row done. A crash anywhere rolls all of it back, so after a restart the row is
processed again, exactly once. On PostgreSQL several processes share the work via
`FOR UPDATE SKIP LOCKED`; on SQLite `BEGIN IMMEDIATE` serialises them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.background import WakeableLoop
from app.codec import payload_to_message
from app.db.models import InboxRow
from app.inbox import purge_expired_keys
from app.messages import InboundMessage, Kind
from app.outbox import enqueue
from app.pipeline import Context, Pipeline
from app.routing import drafts_for_replies
from app.services import AppDeps, Services

log = logging.getLogger(__name__)
PURGE_INTERVAL_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class ProcessResult:
    inbox_id: int
    routes: tuple[str, ...] = ()
    replies: int = 0
    error: str | None = None


class InboxWorker:
    def __init__(
        self,
        deps: AppDeps,
        pipeline: Pipeline,
        *,
        on_replies: Callable[[], None] = lambda: None,
        between_messages: Callable[[], None] = lambda: None,
    ) -> None:
        self._deps = deps
        self._pipeline = pipeline
        self._on_replies = on_replies
        self._between_messages = between_messages
        self._next_purge = 0.0
        self._loop = WakeableLoop(
            "inbox-worker", self._work, deps.settings.inbox.poll_interval_seconds
        )

    def process_next(self, dedupe_key: str | None = None) -> ProcessResult | None:
        """Claim and process one pending row (a given one, or the oldest); None if none."""
        claimed: list[int] = []
        try:
            with self._deps.session_factory() as session, session.begin():
                row = self._claim(session, dedupe_key)
                if row is None:
                    return None
                claimed.append(row.id)
                result = self._process(session, row)
        except Exception as error:
            if not claimed:
                raise
            log.exception("inbox row failed", extra={"inbox_id": claimed[0]})
            self._record_failure(claimed[0], error)
            return ProcessResult(claimed[0], error=repr(error))
        if result.replies:
            self._on_replies()
        return result

    def drain(self, limit: int = 10_000) -> int:
        """Process pending rows until none is left (tests, CLI, restart recovery)."""
        done = 0
        while done < limit and self.process_next() is not None:
            done += 1
        return done

    def _claim(self, session: Session, dedupe_key: str | None) -> InboxRow | None:
        stmt = select(InboxRow).where(InboxRow.status == "pending")
        if dedupe_key is not None:
            stmt = stmt.where(InboxRow.dedupe_key == dedupe_key)
        return session.scalars(
            stmt.order_by(InboxRow.id).limit(1).with_for_update(skip_locked=True)
        ).first()

    def _process(self, session: Session, row: InboxRow) -> ProcessResult:
        now = self._deps.clock.now()
        message = payload_to_message(row.payload)
        services = Services.build(session, self._deps)
        chat_pk, member_pk = _record_presence(services, message)
        ctx = Context(
            message=message, services=services, now=now, chat_pk=chat_pk, member_pk=member_pk
        )
        routes = self._pipeline.run(ctx)
        drafts = drafts_for_replies(message, ctx.replies, chat_pk=chat_pk, now=now)
        enqueue(session, drafts, now=now)
        row.status = "done"
        row.processed_at = now
        log.info("processed", extra={"key": row.dedupe_key, "routes": routes})
        return ProcessResult(row.id, tuple(routes), len(ctx.replies))

    def _record_failure(self, inbox_id: int, error: Exception) -> None:
        max_attempts = self._deps.settings.inbox.max_attempts
        with self._deps.session_factory() as session, session.begin():
            row = session.get(InboxRow, inbox_id)
            if row is None or row.status != "pending":
                return
            row.attempts += 1
            row.last_error = repr(error)[:1000]
            if row.attempts >= max_attempts:
                row.status = "failed"  # visible to admins; never retried by itself

    # -- background thread ----------------------------------------------------------------
    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def wake(self) -> None:
        self._loop.wake()

    def _work(self) -> bool:
        """One pass: process what is pending (yielding to the inbox writer between messages),
        and now and then forget expired replay keys. Always idles afterwards."""
        while not self._loop.stopping and self.process_next() is not None:
            self._between_messages()
        if time.monotonic() >= self._next_purge:
            purge_expired_keys(self._deps.session_factory, self._deps.clock.now())
            self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
        return False


def _record_presence(services: Services, message: InboundMessage) -> tuple[int, int]:
    members = services.members
    chat_pk = members.ensure_chat(message.chat, now=message.sent_at)
    member_pk = members.ensure_member(
        str(message.chat.platform),
        message.sender_id,
        name=message.sender_name,
        role=message.sender_role if message.sender_id != "sys" else None,
        now=message.sent_at,
    )
    if message.kind not in (Kind.MEMBER_JOIN, Kind.MEMBER_LEAVE):
        members.touch(chat_pk, member_pk, now=message.sent_at, counts=True)
    return chat_pk, member_pk
