"""split_text: byte limits, UTF-8 boundaries, preferred break points, losslessness."""

from __future__ import annotations

import itertools
import random

import pytest

from app.senders.split import (
    APP_MESSAGE_MAX_BYTES,
    ROBOT_MARKDOWN_MAX_BYTES,
    ROBOT_TEXT_MAX_BYTES,
    max_bytes_for,
    split_text,
    truncate_utf8,
    utf8_len,
)

ALPHABET = "ab 12.。！？!?\n花屿会员签到积分🌸👍🏽é\u200d"


def random_text(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(length))


def test_limits_are_wecoms() -> None:
    assert (ROBOT_TEXT_MAX_BYTES, ROBOT_MARKDOWN_MAX_BYTES) == (2048, 4096)
    assert max_bytes_for("wecom_robot", "text") == 2048
    assert max_bytes_for("wecom_robot", "markdown") == 4096
    assert max_bytes_for("wecom_app", "markdown") == APP_MESSAGE_MAX_BYTES
    assert max_bytes_for("wecom_robot", "news") is None
    assert max_bytes_for("bridge", "text") is None
    assert max_bytes_for("wecom_bot", "markdown") is None


@pytest.mark.parametrize("text", ["", "签到", "x" * 2048, "花" * 682])
def test_a_text_that_fits_is_one_unchanged_chunk(text: str) -> None:
    assert split_text(text, ROBOT_TEXT_MAX_BYTES) == [text]


def test_chinese_text_is_cut_on_character_boundaries() -> None:
    text = "花" * 1000  # 3000 bytes, no break points

    chunks = split_text(text, ROBOT_TEXT_MAX_BYTES)

    assert chunks == ["花" * 682, "花" * 318]  # 682 * 3 = 2046 <= 2048 < 2049
    assert "".join(chunks) == text


def test_prefers_the_last_line_break() -> None:
    first = "第一段：" + "花" * 400 + "\n"
    second = "第二段：" + "草" * 400 + "\n"
    third = "第三段：" + "木" * 400

    chunks = split_text(first + second + third, utf8_len(first + second) + 100)

    assert chunks == [first + second, third]


def test_falls_back_to_the_last_sentence_end() -> None:
    sentence = "今天签到送十积分。" * 60 + "最后一句没有句号" * 20

    chunks = split_text(sentence, 1000)

    assert all(utf8_len(c) <= 1000 for c in chunks)
    assert chunks[0].endswith("。")
    assert "".join(chunks) == sentence


def test_ascii_sentence_marks_count_too() -> None:
    text = "Is it on? " * 30 + "x" * 300

    chunks = split_text(text, 200)

    assert chunks[0].endswith("?")
    assert "".join(chunks) == text


def test_an_early_break_is_ignored_so_chunks_stay_full() -> None:
    text = "短\n" + "花" * 1000

    chunks = split_text(text, ROBOT_TEXT_MAX_BYTES)

    assert utf8_len(chunks[0]) >= ROBOT_TEXT_MAX_BYTES - 3
    assert "".join(chunks) == text


def test_four_byte_characters_are_never_split() -> None:
    text = "🌸" * 100  # 400 bytes

    chunks = split_text(text, 10)

    assert chunks == ["🌸🌸"] * 50


def test_tiny_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        split_text("花", 3)


@pytest.mark.parametrize("seed", range(40))
def test_random_texts_split_losslessly_within_the_limit(seed: int) -> None:
    rng = random.Random(seed)
    text = random_text(rng, rng.randint(0, 3000))
    max_bytes = rng.choice([4, 5, 7, 16, 100, 2048, 4096])

    chunks = split_text(text, max_bytes)

    assert "".join(chunks) == text
    assert all(utf8_len(chunk) <= max_bytes for chunk in chunks)
    assert all(chunk for chunk in chunks) or chunks == [""]
    # Every chunk but the last is at least half full unless the next character would not fit.
    for chunk, following in itertools.pairwise(chunks):
        next_char = following[0]
        assert utf8_len(chunk) >= max_bytes // 2 or utf8_len(chunk + next_char) > max_bytes


def test_truncate_keeps_a_valid_prefix_and_marks_the_cut() -> None:
    text = "花" * 10  # 30 bytes

    assert truncate_utf8(text, 30) == text
    cut = truncate_utf8(text, 29)
    assert cut == "花" * 8 + "…"  # 24 + 3 bytes; a ninth 花 would make 30
    assert utf8_len(cut) <= 29


@pytest.mark.parametrize("seed", range(10))
def test_truncate_never_exceeds_the_limit(seed: int) -> None:
    rng = random.Random(seed)
    text = random_text(rng, 500)
    limit = rng.randint(3, 600)

    cut = truncate_utf8(text, limit)

    assert utf8_len(cut) <= limit
    assert cut == text or (cut.endswith("…") and text.startswith(cut[:-1]))


def test_a_line_break_beats_a_later_sentence_end() -> None:
    text = "a" * 60 + "\n" + "b" * 30 + "。" + "c" * 100

    chunks = split_text(text, 100)

    assert chunks[0] == "a" * 60 + "\n"
    assert "".join(chunks) == text
