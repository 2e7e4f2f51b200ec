"""The community's newest group messages, held in memory, for the spam-wave rule.

Used by the moderation service (app/services/moderation_activity.py) for every moderated group
message. A spam wave needs the message compared with everyone's recent messages; loading
those rows from the database for every message was most of the inbox worker's time. Instead
each process keeps the newest `capacity` similarity keys in a ring, each with its length and a
64-bit mask of the characters it uses. Two keys whose masks differ in n bits are at least n
insertions and deletions apart (every differing bit stands for a character only one of them
has), so one vectorised pass over the masks rules out nearly every key that cannot reach the
similarity, and rapidfuzz scores only the few left (measured on group chatter against a full
window: 40–55 µs a message instead of 250). Nothing that would match is ever ruled out.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz

WINDOW_ROWS = 5000  # newest messages a spam wave is looked for in, per process
GAP_SECONDS = 120.0  # how long an id below the newest one is waited for
MAX_GAPS = 10_000
# fuzz.ratio's bound is compared in floating point: a key exactly at the similarity must pass.
_BOUND_SLACK = 1e-6


@dataclass(frozen=True, slots=True)
class WaveEntry:
    id: int
    chat_pk: int
    member_pk: int
    key: str  # the similarity key (app/moderation/activity.py similarity_key)
    at: datetime


# A key's mask is asked for when it is compared, joins this transaction's window, and joins the
# process's window after the commit.
@lru_cache(maxsize=4096)
def character_mask(key: str) -> int:
    """One bit per character code modulo 64: characters that share a bit are not told apart,
    which can only let more keys through the filter, never fewer."""
    mask = 0
    for char in key:
        mask |= 1 << (ord(char) & 63)
    return mask


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
        # A ring: slot `_next` is written next; the first `_size` slots are filled.
        self._entries: list[WaveEntry | None] = [None] * capacity
        self._masks = np.zeros(capacity, dtype=np.uint64)
        self._lengths = np.zeros(capacity, dtype=np.int64)
        self._next = 0
        self._size = 0
        self._gaps: dict[int, float] = {}  # missing id -> when it was first missed
        self.high_id: int | None = None  # None: never loaded

    def __len__(self) -> int:
        return self._size

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
        when given, whose key has fuzz.ratio ≥ `min_similarity` with `key`; oldest first."""
        cutoff = min_similarity * 100
        found: list[WaveEntry] = []
        with self._lock:
            slots = self._candidates(key, lengths, min_similarity)
            ordered = [*slots[slots >= self._next], *slots[slots < self._next]]
            for slot in ordered:
                entry = self._entries[slot]
                if (
                    entry is not None
                    and since <= entry.at <= until
                    and chat_pk in (None, entry.chat_pk)
                    and fuzz.ratio(key, entry.key, score_cutoff=cutoff) >= cutoff
                ):
                    found.append(entry)
        return found

    def _candidates(self, key: str, lengths: tuple[int, int], min_similarity: float) -> np.ndarray:
        """Slots whose length is in range and whose mask leaves the similarity reachable.

        fuzz.ratio = 1 - indel distance / (len(a) + len(b)), so a match needs a distance of at
        most (1 - similarity) × (len(a) + len(b)); the differing mask bits are a lower bound.
        The bound is taken at the longest length in range: integers only (a bound per slot in
        floating point took longer than the rest), and rapidfuzz has the last word anyway.
        """
        size = self._size
        masks, sizes = self._masks[:size], self._lengths[:size]
        differing = np.bitwise_count(masks ^ np.uint64(character_mask(key)))
        allowed = int((1 - min_similarity) * (len(key) + lengths[1]) + _BOUND_SLACK)
        keep = (differing <= allowed) & (sizes >= lengths[0]) & (sizes <= lengths[1])
        return np.flatnonzero(keep)

    def _append(self, entry: WaveEntry) -> None:
        slot = self._next
        self._entries[slot] = entry
        self._masks[slot] = character_mask(entry.key)
        self._lengths[slot] = len(entry.key)
        self._next = (slot + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def _expire_gaps(self) -> None:
        deadline = self._monotonic() - self._gap_seconds
        for gap in [gap for gap, since in self._gaps.items() if since < deadline]:
            del self._gaps[gap]
