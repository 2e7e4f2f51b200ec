"""Durable acknowledgement: store a verified callback before answering 200.

Runs inside the web process. Concurrent requests are grouped into one transaction by a single
writer thread (group commit), which both keeps SQLite to one writer and amortises the commit.
A request is answered only after the transaction holding its row has committed.
Changes: inserts `inbox` rows and `processed_keys` (nonce replay guard) rows.

A committed batch wakes the event loop once, not once per request: each wake-up is a trip
through the loop's self-pipe and the GIL, which was measured on the request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.codec import message_to_payload
from app.db.models import InboxRow, ProcessedKey
from app.db.upsert import insert_ignore
from app.messages import InboundMessage

log = logging.getLogger(__name__)
MAX_BATCH = 256


class StoreOutcome(Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"  # same message id, or the identical signed request again
    NONCE_REUSED = "nonce_reused"  # same nonce, different request: refuse


@dataclass(frozen=True, slots=True)
class InboxItem:
    message: InboundMessage
    replay_key: str | None = None  # e.g. "wecom_app:<nonce>"; None when the channel has none
    fingerprint: str = ""  # the request's signature: equal fingerprint = identical replay


def store_batch(
    factory: sessionmaker[Session], items: Sequence[InboxItem], clock: Clock, nonce_ttl: int
) -> list[StoreOutcome]:
    """Store items in one transaction; returns one outcome per item, in order."""
    now = clock.now()
    outcomes: list[StoreOutcome | None] = [None] * len(items)
    with factory() as session, session.begin():
        _check_replays(session, items, outcomes, now, nonce_ttl)
        candidates = [(i, it) for i, it in enumerate(items) if outcomes[i] is None]
        seen: set[str] = set()
        rows = []
        for index, item in candidates:
            key = item.message.dedupe_key
            if key in seen:
                outcomes[index] = StoreOutcome.DUPLICATE
                continue
            seen.add(key)
            rows.append(
                {
                    "dedupe_key": key,
                    "platform": str(item.message.chat.platform),
                    "payload": message_to_payload(item.message),
                    "status": "pending",
                    "attempts": 0,
                    "received_at": now,
                }
            )
        inserted = insert_ignore(session, InboxRow, rows, ["dedupe_key"], InboxRow.dedupe_key)
        for index, item in candidates:
            if outcomes[index] is None:
                key = item.message.dedupe_key
                outcomes[index] = (
                    StoreOutcome.STORED if key in inserted else StoreOutcome.DUPLICATE
                )
    return [outcome or StoreOutcome.DUPLICATE for outcome in outcomes]


def _check_replays(
    session: Session,
    items: Sequence[InboxItem],
    outcomes: list[StoreOutcome | None],
    now: datetime,
    nonce_ttl: int,
) -> None:
    guarded = [(i, it) for i, it in enumerate(items) if it.replay_key]
    if not guarded or nonce_ttl <= 0:
        return
    expires = now + timedelta(seconds=nonce_ttl)
    first_seen: dict[str, str] = {}
    rows = []
    for _, item in guarded:
        assert item.replay_key is not None
        if item.replay_key not in first_seen:
            first_seen[item.replay_key] = item.fingerprint
            rows.append(
                {"key": item.replay_key, "fingerprint": item.fingerprint, "expires_at": expires}
            )
    inserted = insert_ignore(session, ProcessedKey, rows, ["key"], ProcessedKey.key)
    conflicting = [k for k in first_seen if k not in inserted]
    stored: dict[str, str] = {}
    if conflicting:  # rare (replays); skip the query otherwise
        stored = {
            key: fingerprint
            for key, fingerprint in session.execute(
                select(ProcessedKey.key, ProcessedKey.fingerprint).where(
                    ProcessedKey.key.in_(conflicting)
                )
            )
        }
    claimed: set[str] = set()
    for index, item in guarded:
        key = item.replay_key
        assert key is not None
        if key in inserted and key not in claimed and first_seen[key] == item.fingerprint:
            claimed.add(key)
            continue
        known = stored.get(key, first_seen[key])
        outcomes[index] = (
            StoreOutcome.DUPLICATE if known == item.fingerprint else StoreOutcome.NONCE_REUSED
        )


def purge_expired_keys(factory: sessionmaker[Session], now: datetime) -> int:
    """Forget replay-guard keys past their time window; returns how many were removed."""
    with factory() as session, session.begin():
        result = session.execute(delete(ProcessedKey).where(ProcessedKey.expires_at < now))
    return int(result.rowcount)  # type: ignore[attr-defined]


_Waiter = tuple[InboxItem, "asyncio.Future[StoreOutcome]", asyncio.AbstractEventLoop]
_Settled = list[tuple["asyncio.Future[StoreOutcome]", StoreOutcome | BaseException]]


class InboxWriter:
    """Single writer thread with group commit; `store()` resolves after the commit."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Clock,
        *,
        nonce_ttl: int,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self._factory = factory
        self._clock = clock
        self._nonce_ttl = nonce_ttl
        self.on_stored = on_stored
        self._queue: queue.SimpleQueue[_Waiter | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._writing = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    async def store(self, item: InboxItem) -> StoreOutcome:
        if self._thread is None:  # not started (tests, CLI): write inline
            return (await asyncio.to_thread(self.store_now, [item]))[0]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoreOutcome] = loop.create_future()
        self._queue.put((item, future, loop))
        return await future

    def has_waiting(self) -> bool:
        """True while callbacks wait to be stored or are being stored. On SQLite a worker
        transaction holds the only write lock, so the worker should commit soon when this
        is true: every waiting callback's answer waits for that commit."""
        return self._writing.is_set() or not self._queue.empty()

    def wait_idle(self, timeout: float) -> None:
        """Let waiting callbacks be stored first (the inbox worker calls this between
        messages: acknowledging a callback is on a deadline, processing it is not)."""
        deadline = time.monotonic() + timeout
        while self.has_waiting() and time.monotonic() < deadline:
            time.sleep(0.0005)

    def store_now(self, items: Sequence[InboxItem]) -> list[StoreOutcome]:
        outcomes = store_batch(self._factory, items, self._clock, self._nonce_ttl)
        if StoreOutcome.STORED in outcomes:
            self.on_stored()
        return outcomes

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._write(batch)

    def _write(self, batch: list[_Waiter]) -> None:
        self._writing.set()
        results: list[StoreOutcome | BaseException]
        try:
            results = list(self.store_now([item for item, _, _ in batch]))
        except Exception as error:  # the database is down: fail these requests, keep running
            log.exception("inbox write failed", extra={"batch": len(batch)})
            results = [error] * len(batch)
        finally:
            self._writing.clear()
        by_loop: dict[asyncio.AbstractEventLoop, _Settled] = {}
        for (_, future, loop), result in zip(batch, results, strict=True):
            by_loop.setdefault(loop, []).append((future, result))
        for loop, settled in by_loop.items():
            # A closed loop raises RuntimeError: nobody waits for those requests any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: _Settled) -> None:
    """On the event loop: resolve a committed batch's requests (a request whose client has
    gone away was cancelled; its row is stored all the same)."""
    for future, result in settled:
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
