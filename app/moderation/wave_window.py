"""The community's newest group messages, held in memory, for the spam-wave rule.

Used by the moderation service (app/services/moderation_activity.py) for every moderated group
message. A spam wave needs the message compared with everyone's recent messages; loading
those rows from the database for every message was most of the inbox worker's time. Instead
each process keeps the newest `capacity` similarity keys, bucketed by length, and compares a
message only with the buckets whose lengths can reach the similarity, in rapidfuzz's C loop.

The rows come from the `moderation_activity` table, so messages other processes recorded
count too: the caller reads the rows after `high_id` plus the `missing_ids` — ids below the
newest one that were not committed yet when last read (another worker's open transaction),
so a slower transaction's rows still arrive. An id still missing after `gap_seconds` was rolled
back or consumed by a conflicting insert and is forgotten. Pure: reads no database and no
wall clock (`monotonic` is injected); changes only itself.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from rapidfuzz import fuzz, process

WINDOW_ROWS = 5000  # newest messages a spam wave is looked for in, per process
GAP_SECONDS = 120.0  # how long an id below the newest one is waited for
MAX_GAPS = 10_000


@dataclass(frozen=True, slots=True)
class WaveEntry:
    id: int
    chat_pk: int
    member_pk: int
    key: str  # the similarity key (app/moderation/activity.py similarity_key)
    at: datetime


class WaveWindow:
    """The newest `capacity` entries, oldest evicted first; thread-safe."""

    def __init__(
        self,
        capacity: int = WINDOW_ROWS,
        *,
        gap_seconds: float = GAP_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self._gap_seconds = gap_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._arrival: deque[int] = deque()  # the length of every entry, oldest first
        self._keys: dict[int, deque[str]] = {}  # per length, oldest first
        self._entries: dict[int, deque[WaveEntry]] = {}  # aligned with _keys
        self._gaps: dict[int, float] = {}  # missing id -> when it was first missed
        self.high_id: int | None = None  # None: never loaded

    def __len__(self) -> int:
        return len(self._arrival)

    def missing_ids(self) -> list[int]:
        """Ids below `high_id` not seen yet and still waited for."""
        with self._lock:
            self._expire_gaps()
            return list(self._gaps)

    def load(self, rows: Iterable[WaveEntry]) -> None:
        """The first read: the table's newest rows (older ids are not waited for)."""
        with self._lock:
            ordered = sorted(rows, key=lambda row: row.id)
            for row in ordered[-self.capacity :]:
                self._append(row)
            self.high_id = max((row.id for row in ordered), default=self.high_id or 0)

    def refresh(self, rows: Iterable[WaveEntry]) -> None:
        """Rows read since: ids above `high_id`, and missing ids that have arrived."""
        with self._lock:
            high = self.high_id or 0
            now = self._monotonic()
            for row in sorted(rows, key=lambda row: row.id):
                if row.id > high:
                    for missing in range(high + 1, row.id):
                        self._gaps[missing] = now
                    high = row.id
                elif self._gaps.pop(row.id, None) is None:
                    continue  # already in the window (or evicted)
                self._append(row)
            self.high_id = high
            while len(self._gaps) > MAX_GAPS:
                del self._gaps[next(iter(self._gaps))]

    def append(self, entry: WaveEntry) -> None:
        """Add one entry without id bookkeeping (a transaction's own, uncommitted rows)."""
        with self._lock:
            self._append(entry)

    def similar(
        self,
        key: str,
        *,
        lengths: tuple[int, int],
        since: datetime,
        until: datetime,
        min_similarity: float,
        chat_pk: int | None = None,
    ) -> list[WaveEntry]:
        """Entries of a length in `lengths` (inclusive), at `since`..`until`, in `chat_pk`
        when given, whose key has fuzz.ratio ≥ `min_similarity` with `key` (or equals it)."""
        cutoff = min_similarity * 100
        found: list[WaveEntry] = []
        with self._lock:
            for length in range(lengths[0], lengths[1] + 1):
                keys = self._keys.get(length)
                if not keys:
                    continue
                entries = self._entries[length]
                matches = process.extract(
                    key, keys, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
                )
                for _choice, _score, index in matches:
                    entry = entries[index]
                    if since <= entry.at <= until and chat_pk in (None, entry.chat_pk):
                        found.append(entry)
        return found

    def _append(self, entry: WaveEntry) -> None:
        length = len(entry.key)
        self._keys.setdefault(length, deque()).append(entry.key)
        self._entries.setdefault(length, deque()).append(entry)
        self._arrival.append(length)
        while len(self._arrival) > self.capacity:
            oldest = self._arrival.popleft()
            self._keys[oldest].popleft()
            self._entries[oldest].popleft()

    def _expire_gaps(self) -> None:
        deadline = self._monotonic() - self._gap_seconds
        for gap in [gap for gap, since in self._gaps.items() if since < deadline]:
            del self._gaps[gap]
