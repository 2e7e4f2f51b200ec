"""The inbox worker: turns stored callbacks into state changes and queued replies.

Runs in every web process (a background thread). Pending inbox rows are processed in batches
(`inbox.batch_size`), ONE transaction per batch: claim the rows, record chat/member presence
for all of them, run the pipeline message by message, write the outbox rows, mark the rows
done, commit. A crash anywhere rolls all of it back, so after a restart the rows are processed
again, exactly once. A message whose handler raises does not take the batch down: the batch
is rolled back and run again without it, and that message is recorded as a failed attempt
(retried later, then parked as `failed`) in the same commit as the others. That costs a re-run
on the rare failure instead of a savepoint on every message. On PostgreSQL several processes
share the work via `FOR UPDATE SKIP LOCKED`; on SQLite `BEGIN IMMEDIATE` serialises them, and
a batch ends early (`commit_soon`) when callbacks wait for the one write lock to be stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, case, select, update
from sqlalchemy.orm import Session

from app.background import WakeableLoop
from app.codec import payload_to_message
from app.db.models import InboxRow
from app.db.upsert import cached_statement, one_of
from app.inbox import purge_expired_keys
from app.messages import InboundMessage
from app.outbox import OutboxDraft, enqueue
from app.pipeline import Arrival, Context, Pipeline
from app.routing import drafts_for_replies
from app.services import AppDeps, Services
from app.services.presence import BatchPresence, Seen

log = logging.getLogger(__name__)
PURGE_INTERVAL_SECONDS = 600.0
# A claimed row: id, dedupe_key and payload. Plain rows, not ORM objects: loading a batch of
# entities cost more than the rest of the claim.
ClaimedRow = Row[tuple[int, str, dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class ProcessResult:
    inbox_id: int
    routes: tuple[str, ...] = ()
    replies: int = 0
    error: str | None = None


class _MessageFailed(Exception):
    """One message of a batch raised; the batch is rolled back and run again without it."""

    def __init__(self, inbox_id: int, error: Exception) -> None:
        super().__init__(inbox_id, error)
        self.inbox_id = inbox_id
        self.error = error


class InboxWorker:
    def __init__(
        self,
        deps: AppDeps,
        pipeline: Pipeline,
        *,
        on_replies: Callable[[], None] = lambda: None,
        between_messages: Callable[[], None] = lambda: None,
        commit_soon: Callable[[], bool] = lambda: False,
    ) -> None:
        self._deps = deps
        self._pipeline = pipeline
        self._on_replies = on_replies
        self._between_messages = between_messages
        self._commit_soon = commit_soon
        self._next_purge = 0.0
        self._loop = WakeableLoop(
            "inbox-worker", self._work, deps.settings.inbox.poll_interval_seconds
        )

    def process_next(self, dedupe_key: str | None = None) -> ProcessResult | None:
        """Claim and process one pending row (a given one, or the oldest); None if none."""
        results = self.process_batch(1, dedupe_key=dedupe_key)
        return results[0] if results else None

    def process_batch(
        self, limit: int | None = None, *, dedupe_key: str | None = None
    ) -> list[ProcessResult]:
        """Claim up to `limit` pending rows (default `inbox.batch_size`) and process them in
        one transaction; [] when none is pending."""
        size = limit or self._deps.settings.inbox.batch_size
        failed: dict[int, Exception] = {}
        claimed: list[int] = []
        only: list[int] | None = None
        while True:  # each round sets one more failing message aside: at most `size` rounds
            try:
                results = self._run_batch(size, dedupe_key, only, failed, claimed)
            except _MessageFailed as failure:
                log.warning(
                    "inbox row failed",
                    exc_info=failure.error,
                    extra={"inbox_id": failure.inbox_id},
                )
                failed[failure.inbox_id] = failure.error
                only = list(claimed)
                continue
            except Exception as error:
                if not claimed:
                    raise
                results = self._batch_failed(claimed, error)
            break
        if any(result.replies for result in results):
            self._on_replies()
        return results

    def drain(self, limit: int = 10_000) -> int:
        """Process pending rows until none is left (tests, CLI, restart recovery)."""
        done = 0
        while done < limit:
            results = self.process_batch(min(limit - done, self._deps.settings.inbox.batch_size))
            if not results:
                break
            done += len(results)
        return done

    def _run_batch(
        self,
        size: int,
        dedupe_key: str | None,
        only: list[int] | None,
        failed: dict[int, Exception],
        claimed: list[int],
    ) -> list[ProcessResult]:
        """One transaction: claim, process all but the `failed` rows, record those."""
        with self._deps.session_factory() as session, session.begin():
            rows = self._claim(session, size, dedupe_key, only)
            claimed[:] = [row.id for row in rows]
            todo = [row for row in rows if row.id not in failed]
            results = self._process(session, todo) if todo else []
            for row in rows:
                if row.id in failed:
                    results.append(self._count_failure(session, row.id, failed[row.id]))
        return sorted(results, key=lambda result: result.inbox_id)

    def _batch_failed(self, claimed: list[int], error: Exception) -> list[ProcessResult]:
        """The batch failed outside any one message (its shared statements or the commit):
        a lone row counts it as its failed attempt; a batch is retried row by row."""
        if len(claimed) == 1:
            return self._fail_alone(claimed[0], error)
        log.warning("inbox batch failed; processing it row by row", exc_info=error)
        results: list[ProcessResult] = []
        for inbox_id in claimed:
            results += self._run_alone(inbox_id)
        return results

    def _run_alone(self, inbox_id: int) -> list[ProcessResult]:
        claimed: list[int] = []
        try:
            return self._run_batch(1, None, [inbox_id], {}, claimed)
        except Exception as error:
            if not claimed:
                raise
            return self._fail_alone(
                inbox_id, error.error if isinstance(error, _MessageFailed) else error
            )

    def _fail_alone(self, inbox_id: int, error: Exception) -> list[ProcessResult]:
        """A row that failed on its own: log it and count the failed attempt."""
        log.exception("inbox row failed", extra={"inbox_id": inbox_id})
        with self._deps.session_factory() as session, session.begin():
            return [self._count_failure(session, inbox_id, error)]

    def _claim(
        self, session: Session, size: int, dedupe_key: str | None, only: list[int] | None
    ) -> Sequence[ClaimedRow]:
        stmt = select(InboxRow.id, InboxRow.dedupe_key, InboxRow.payload).where(
            InboxRow.status == "pending"
        )
        if dedupe_key is not None:
            stmt = stmt.where(InboxRow.dedupe_key == dedupe_key)
        if only is not None:
            stmt = stmt.where(InboxRow.id.in_(only))
        return session.execute(
            stmt.order_by(InboxRow.id).limit(size).with_for_update(skip_locked=True)
        ).all()

    def _process(self, session: Session, rows: Sequence[ClaimedRow]) -> list[ProcessResult]:
        """Presence for the batch, the pipeline per message, then the batch's writes."""
        services = Services.build(session, self._deps)
        messages = [_decode(row) for row in rows]
        presence = BatchPresence(session)
        seen = presence.prepare(messages)
        arrivals = [
            Arrival(message, pks.chat_pk, pks.member_pk)
            for message, pks in zip(messages, seen, strict=True)
        ]
        self._pipeline.prepare(services, arrivals, self._deps.clock.now())
        ran: list[tuple[Context, list[str]]] = []
        for row, message, pks in zip(rows, messages, seen, strict=True):
            if ran and self._commit_soon():
                break  # the rest stay pending for the next batch
            try:
                ran.append(self._run_one(services, row, message, pks))
            except Exception as error:
                raise _MessageFailed(row.id, error) from error
        self._pipeline.finish(services)  # may still add replies to the batch's messages
        if any(ctx.awaiting for ctx, _ in ran):
            raise RuntimeError("a route promised a reply (reply_later) and never gave it")
        done = len(ran)
        presence.settle(list(zip(messages[:done], seen[:done], strict=True)))
        drafts: list[OutboxDraft] = []
        results: list[ProcessResult] = []
        for row, (ctx, routes) in zip(rows, ran, strict=False):
            drafts += drafts_for_replies(
                ctx.message, ctx.replies, chat_pk=ctx.chat_pk, now=ctx.now
            )
            results.append(ProcessResult(row.id, tuple(routes), len(ctx.replies)))
        now = self._deps.clock.now()
        enqueue(session, drafts, now=now)
        session.execute(
            cached_statement(session, "inbox-done", _mark_done),
            {"ids": [row.id for row in rows[:done]], "at": now},
        )
        return results

    def _run_one(
        self, services: Services, row: ClaimedRow, message: InboundMessage, pks: Seen
    ) -> tuple[Context, list[str]]:
        ctx = Context(
            message=message,
            services=services,
            now=self._deps.clock.now(),
            chat_pk=pks.chat_pk,
            member_pk=pks.member_pk,
        )
        routes = self._pipeline.run(ctx)
        log.info("processed", extra={"key": row.dedupe_key, "routes": routes})
        return ctx, routes

    def _count_failure(self, session: Session, inbox_id: int, error: Exception) -> ProcessResult:
        """Count a failed attempt on a pending row (claimed in this transaction, or after
        the batch that failed)."""
        attempts = InboxRow.attempts + 1
        session.execute(
            update(InboxRow)
            .where(InboxRow.id == inbox_id, InboxRow.status == "pending")
            .values(
                attempts=attempts,
                last_error=repr(error)[:1000],
                # visible to admins; never retried by itself
                status=case(
                    (attempts >= self._deps.settings.inbox.max_attempts, "failed"),
                    else_=InboxRow.status,
                ),
            )
            .execution_options(synchronize_session=False)
        )
        return ProcessResult(inbox_id, error=repr(error))

    # -- background thread ----------------------------------------------------------------
    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def wake(self) -> None:
        self._loop.wake()

    def _work(self) -> bool:
        """One pass: process what is pending, a batch at a time (yielding to the inbox
        writer between batches), and now and then forget expired replay keys. Always idles
        afterwards."""
        while not self._loop.stopping and self.process_batch():
            self._between_messages()
        if time.monotonic() >= self._next_purge:
            purge_expired_keys(self._deps.session_factory, self._deps.clock.now())
            self._next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
        return False


def _mark_done(dialect: str) -> Any:
    return (
        update(InboxRow)
        .where(one_of(dialect, InboxRow.id, "ids"))
        .values(status="done", processed_at=bindparam("at"))
        .execution_options(synchronize_session=False)
    )


def _decode(row: ClaimedRow) -> InboundMessage:
    try:
        return payload_to_message(row.payload)
    except Exception as error:
        raise _MessageFailed(row.id, error) from error
