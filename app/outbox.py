"""The outbox: replies and posts are rows first, network calls second.

`enqueue` runs inside the transaction that changed state (so a reply exists iff its cause
committed). `OutboxDispatcher` runs in every web process (and the scheduler): it claims due
rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer), counts them against
per-robot rate windows, commits the claim, calls the sender, and records the outcome with
exponential backoff and a dead-letter state.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.background import WakeableLoop
from app.clock import Clock
from app.db.models import OutboxRow, RateEvent
from app.db.upsert import insert_ignore
from app.senders.base import Delivery, Sender, SendError
from app.settings import OutboxSettings

log = logging.getLogger(__name__)
RATE_WINDOW = timedelta(seconds=60)
# Channels whose API has no idempotency key: a send interrupted by a crash is not repeated
# blindly (it may have gone out); it is dead-lettered for a human to look at instead.
NON_IDEMPOTENT_CHANNELS = frozenset({"wecom_robot", "wecom_app", "wecom_bot"})


@dataclass(frozen=True, slots=True)
class OutboxDraft:
    key: str
    channel: str
    target: str
    text: str
    kind: str = "text"
    mention_ids: tuple[str, ...] = ()
    extras: Mapping[str, str] = field(default_factory=dict)
    chat_pk: int | None = None
    rate_bucket: str | None = None
    not_before: datetime | None = None
    status: str = "queued"
    note: str | None = None


def enqueue(session: Session, drafts: Sequence[OutboxDraft], *, now: datetime) -> set[str]:
    """Insert drafts, ignoring keys already present; returns the keys inserted."""
    rows: list[dict[str, Any]] = [
        {
            "idempotency_key": d.key,
            "channel": d.channel,
            "target": d.target,
            "kind": d.kind,
            "text": d.text,
            "mention_ids": list(d.mention_ids),
            "extras": dict(d.extras),
            "chat_id": d.chat_pk,
            "rate_bucket": d.rate_bucket,
            "status": d.status,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": d.not_before or now,
            "last_error": d.note,
        }
        for d in drafts
    ]
    return insert_ignore(session, OutboxRow, rows, ["idempotency_key"], OutboxRow.idempotency_key)


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0

    @property
    def claimed(self) -> int:
        return self.sent + self.failed + self.dead


class OutboxDispatcher:
    """Claims due rows, sends them, records the outcome. Safe to run in several processes."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        senders: Mapping[str, Sender],
        clock: Clock,
        settings: OutboxSettings,
    ) -> None:
        self._factory = factory
        self._senders = dict(senders)
        self._clock = clock
        self._settings = settings
        self._loop = WakeableLoop(
            "outbox", lambda: self.run_once().claimed > 0, settings.poll_interval_seconds
        )

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def wake(self) -> None:
        self._loop.wake()

    # -- one pass -------------------------------------------------------------------------
    def run_once(self, limit: int = 50) -> DispatchReport:
        report = DispatchReport()
        self._recover_interrupted()
        claimed, report.deferred = self._claim(limit)
        for delivery_id, delivery in claimed:
            self._deliver(delivery_id, delivery, report)
        return report

    def drain(self, max_rounds: int = 100) -> DispatchReport:
        """Run passes until nothing is due (tests and the CLI)."""
        total = DispatchReport()
        for _ in range(max_rounds):
            report = self.run_once()
            total.sent += report.sent
            total.failed += report.failed
            total.dead += report.dead
            total.deferred += report.deferred
            if report.claimed == 0:
                break
        return total

    def _claim(self, limit: int) -> tuple[list[tuple[int, Delivery]], int]:
        now = self._clock.now()
        lease = now + timedelta(seconds=self._settings.lease_seconds)
        claimed: list[tuple[int, Delivery]] = []
        deferred = 0
        with self._factory() as session, session.begin():
            rows = session.scalars(
                select(OutboxRow)
                .where(OutboxRow.status.in_(("queued", "failed")))
                .where(OutboxRow.next_attempt_at <= now)
                .order_by(OutboxRow.rate_bucket.is_not(None), OutboxRow.rate_bucket, OutboxRow.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                if row.rate_bucket and not self._take_rate_slot(session, row, now):
                    deferred += 1
                    continue
                row.status = "sending"
                row.lease_until = lease
                row.attempts += 1
                claimed.append((row.id, _to_delivery(row)))
        return claimed, deferred

    def _take_rate_slot(self, session: Session, row: OutboxRow, now: datetime) -> bool:
        """Count this send in the bucket's sliding 60-second window, or push the row back."""
        bucket = row.rate_bucket
        assert bucket is not None
        if session.get_bind().dialect.name == "postgresql":
            # Serialise counters per bucket across processes for the rest of this transaction.
            session.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(bucket.encode())}
            )
        window_start = now - RATE_WINDOW
        used, oldest = session.execute(
            select(func.count(), func.min(RateEvent.at)).where(
                RateEvent.bucket == bucket, RateEvent.at > window_start
            )
        ).one()
        if used >= self._settings.robot_messages_per_minute:
            row.next_attempt_at = (oldest or now) + RATE_WINDOW + timedelta(milliseconds=1)
            return False
        session.add(RateEvent(bucket=bucket, at=now))
        return True

    def _deliver(self, delivery_id: int, delivery: Delivery, report: DispatchReport) -> None:
        sender = self._senders.get(delivery.channel)
        try:
            if sender is None:
                raise SendError(f"no sender configured for {delivery.channel}", retryable=False)
            sender.send(delivery)
        except SendError as error:
            self._record_failure(delivery_id, error, report)
            return
        except Exception as error:  # a sender bug must not kill the dispatcher
            log.exception("sender crashed", extra={"channel": delivery.channel})
            self._record_failure(delivery_id, SendError(f"sender error: {error!r}"), report)
            return
        with self._factory() as session, session.begin():
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == delivery_id, OutboxRow.status == "sending")
                .values(status="sent", sent_at=self._clock.now(), lease_until=None)
            )
        report.sent += 1

    def _record_failure(self, delivery_id: int, error: SendError, report: DispatchReport) -> None:
        now = self._clock.now()
        with self._factory() as session, session.begin():
            row = session.get(OutboxRow, delivery_id, with_for_update=True)
            if row is None or row.status != "sending":
                return
            row.last_error = error.reason[:1000]
            row.lease_until = None
            if not error.retryable or row.attempts >= self._settings.max_attempts:
                row.status = "dead"
                report.dead += 1
                log.warning("delivery dead", extra={"key": row.idempotency_key})
                return
            row.status = "failed"
            row.next_attempt_at = now + timedelta(seconds=self._delay(row.attempts, error))
            report.failed += 1

    def _delay(self, attempts: int, error: SendError) -> float:
        backoff = self._settings.backoff_base_seconds * 2.0 ** (attempts - 1)
        delay = min(backoff, self._settings.backoff_max_seconds)
        return float(max(delay, error.retry_after or 0.0))

    def _recover_interrupted(self) -> None:
        """Rows left in `sending` by a crashed process: resend where the channel dedupes."""
        now = self._clock.now()
        with self._factory() as session, session.begin():
            stale = session.scalars(
                select(OutboxRow)
                .where(OutboxRow.status == "sending", OutboxRow.lease_until < now)
                .with_for_update(skip_locked=True)
            ).all()
            for row in stale:
                row.lease_until = None
                if row.channel in NON_IDEMPOTENT_CHANNELS:
                    row.status = "dead"
                    row.last_error = "interrupted while sending; not resent to avoid a duplicate"
                else:
                    row.status = "failed"
                    row.next_attempt_at = now


def _to_delivery(row: OutboxRow) -> Delivery:
    return Delivery(
        key=row.idempotency_key,
        channel=row.channel,
        target=row.target,
        text=row.text,
        kind=row.kind,
        mention_ids=tuple(row.mention_ids or ()),
        extras={str(k): str(v) for k, v in (row.extras or {}).items()},
    )


def requeue_dead(session: Session, outbox_id: int, *, now: datetime) -> bool:
    """An admin sends a dead delivery again; returns False unless it was dead."""
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == outbox_id, OutboxRow.status == "dead")
        .values(status="queued", attempts=0, next_attempt_at=now, last_error=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
