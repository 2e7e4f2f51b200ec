"""The in-memory window of recent messages: matching, eviction, and reading rows in any order."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from rapidfuzz import fuzz

from app.moderation.activity import similarity_key
from app.moderation.wave_window import WaveEntry, WaveWindow
from app.services.moderation_activity import length_range

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
WAVE = similarity_key("亲们看这个超值的活动点进去就有惊喜哦")


def entry(
    row_id: int, key: str = WAVE, *, chat: int = 1, member: int | None = None, seconds: float = 0
) -> WaveEntry:
    return WaveEntry(row_id, chat, member or row_id, key, T0 + timedelta(seconds=seconds))


def similar(window: WaveWindow, key: str = WAVE, **kw: object) -> list[int]:
    options: dict[str, object] = {
        "lengths": (len(key) - 2, len(key) + 2),
        "since": T0,
        "until": T0 + timedelta(minutes=10),
        "min_similarity": 0.9,
        **kw,
    }
    return sorted(e.id for e in window.similar(key, **options))  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_near_copies_match_and_other_texts_do_not() -> None:
    window = WaveWindow()
    window.load(
        [
            entry(1),
            entry(2, WAVE + "呀"),  # one character more: still the same text
            entry(3, similarity_key("今天的花什么时候到货呢大家知道吗")),
            entry(4, WAVE[:8]),  # too short to be similar
        ]
    )

    assert similar(window) == [1, 2]
    assert similar(window, min_similarity=1.0) == [1]


def test_only_the_given_lengths_time_and_chat_are_searched() -> None:
    window = WaveWindow()
    window.load([entry(1, chat=1), entry(2, chat=2, seconds=30), entry(3, seconds=700)])

    assert similar(window, lengths=(1, 5)) == []
    assert similar(window, since=T0 + timedelta(seconds=10)) == [2]
    assert similar(window, until=T0 + timedelta(seconds=10)) == [1]
    assert similar(window, chat_pk=2) == [2]


def test_the_oldest_entries_leave_when_the_window_is_full() -> None:
    window = WaveWindow(capacity=3)
    window.load([entry(1), entry(2, "别的内容完全不同的一句话而已")])
    window.refresh([entry(3), entry(4)])

    assert len(window) == 3
    assert similar(window) == [3, 4]


def test_the_first_read_keeps_the_newest_rows_and_waits_for_no_older_id() -> None:
    window = WaveWindow(capacity=2)
    window.load([entry(5), entry(9), entry(7)])

    assert window.high_id == 9
    assert similar(window) == [7, 9]
    assert window.missing_ids() == []


def test_an_id_committed_late_is_picked_up_and_a_row_never_counts_twice() -> None:
    window = WaveWindow()
    window.load([entry(1)])
    window.refresh([entry(4)])  # 2 and 3 belong to a transaction still open elsewhere

    assert window.missing_ids() == [2, 3]
    window.refresh([entry(3), entry(4), entry(5)])  # 4 read again: already there

    assert window.missing_ids() == [2]
    assert similar(window) == [1, 3, 4, 5]


def test_an_id_missing_for_long_is_given_up() -> None:
    clock = Clock()
    window = WaveWindow(gap_seconds=60, monotonic=clock)
    window.load([entry(1)])
    window.refresh([entry(3)])
    clock.now = 59

    assert window.missing_ids() == [2]
    clock.now = 61
    assert window.missing_ids() == []
    window.refresh([entry(2)])  # a row behind the given-up id is not taken any more
    assert similar(window) == [1, 3]


def test_an_empty_window_reads_from_the_start() -> None:
    window = WaveWindow()
    window.load([])
    assert window.high_id == 0

    window.refresh([entry(1), entry(2)])
    assert similar(window) == [1, 2]
    assert window.missing_ids() == []


def test_the_character_filter_finds_exactly_what_scoring_every_key_finds() -> None:
    # Keys from a small alphabet with random edits: many near misses, many mask collisions
    # (characters 64 code points apart share a bit), lengths on both sides of the bound.
    rng = random.Random(7)
    alphabet = "积分签到秒杀群规活动快递水果aA0@" + chr(ord("积") + 64)
    base = ["".join(rng.choices(alphabet, k=rng.randint(8, 30))) for _ in range(40)]
    keys = [_edited(rng, rng.choice(base), alphabet) for _ in range(600)]
    window = WaveWindow(capacity=500)  # the first 100 keys are evicted
    window.load(entry(i + 1, key, member=1) for i, key in enumerate(keys))

    for query in keys[::7]:
        for min_similarity in (0.6, 0.8, 0.9, 0.95, 1.0):
            lengths = length_range(len(query), min_similarity)
            expected = [
                i + 1
                for i, key in enumerate(keys[100:], start=100)
                if lengths[0] <= len(key) <= lengths[1]
                and fuzz.ratio(query, key) >= min_similarity * 100
            ]
            found = similar(window, query, lengths=lengths, min_similarity=min_similarity)
            assert found == expected, (query, min_similarity)


def _edited(rng: random.Random, key: str, alphabet: str) -> str:
    chars = list(key)
    for _ in range(rng.randint(0, 4)):
        position = rng.randrange(len(chars) + 1)
        if rng.random() < 0.5 and position < len(chars):
            del chars[position]
        else:
            chars.insert(position, rng.choice(alphabet))
    return "".join(chars)


def test_a_key_exactly_at_the_similarity_is_found() -> None:
    # 45 characters, and the same with 10 more: ratio exactly 0.9, and 10 differing mask bits
    # where (1 - 0.9) × (45 + 55) is 9.999… in floating point.
    key = "".join(chr(0x4E00 + i) for i in range(45))
    longer = key + "".join(chr(0x4E00 + 45 + i) for i in range(10))
    window = WaveWindow()
    window.load([entry(1, longer)])

    assert similar(window, key, lengths=(36, 55), min_similarity=0.9) == [1]
