"""Knowledge-base CSV import and export."""

from __future__ import annotations

import pytest

from app.faq.csv_io import HEADER, KbImportError, count_rows, parse_kb_csv, write_kb_csv
from app.faq.index import KbEntry

GOOD = (
    "id,question,similar_questions,answer,tags\n"
    "A1,运费多少？,送货多少钱| 满多少包邮 ,5 元,配送|运费\n"
    'A2,"几点开门,几点关门？",,"每天 9:00,\n周末照常",\n'
)


def _error(data: bytes) -> KbImportError:
    with pytest.raises(KbImportError) as caught:
        parse_kb_csv(data)
    return caught.value


def test_parses_fields_and_splits_lists() -> None:
    first, second = parse_kb_csv(GOOD.encode())
    assert first == KbEntry(
        "A1", "运费多少？", ("送货多少钱", "满多少包邮"), "5 元", ("配送", "运费")
    )
    assert second.question == "几点开门,几点关门？"
    assert second.answer == "每天 9:00,\n周末照常"
    assert second.similar_questions == ()


def test_accepts_a_byte_order_mark() -> None:
    assert [e.id for e in parse_kb_csv(b"\xef\xbb\xbf" + GOOD.encode())] == ["A1", "A2"]


def test_bad_header_is_line_1() -> None:
    error = _error(b"id,question,answer\nA1,q,a\n")
    assert error.line == 1
    assert "header" in error.reason
    assert str(error).startswith("line 1:")


def test_missing_id_names_its_line() -> None:
    error = _error((GOOD + ",问题,,答案,\n").encode())
    assert (error.line, error.reason) == (5, "missing id")


def test_duplicate_id_names_both_lines() -> None:
    error = _error((GOOD + "A1,别的问题,,答案,\n").encode())
    assert error.line == 5
    assert "duplicate id 'A1'" in error.reason
    assert "line 2" in error.reason


def test_bad_encoding_names_the_line_of_the_bad_byte() -> None:
    data = GOOD.encode() + "A3,退款,,".encode() + "原路退回".encode("gbk") + b",\n"
    error = _error(data)
    assert error.line == 5
    assert "UTF-8" in error.reason


@pytest.mark.parametrize(
    ("row", "reason"),
    [("A3,,,答案,", "missing question"), ("A3,问题,,,", "missing answer"), ("A3,问题", "columns")],
)
def test_incomplete_rows_are_rejected(row: str, reason: str) -> None:
    error = _error((GOOD + row + "\n").encode())
    assert error.line == 5
    assert reason in error.reason


def test_unterminated_quote_is_reported() -> None:
    error = _error(b'id,question,similar_questions,answer,tags\nA1,"oops,,a,\n')
    assert error.line == 2


def test_empty_file_is_rejected() -> None:
    assert _error(b"").line == 1


def test_blank_rows_are_skipped() -> None:
    assert len(parse_kb_csv((GOOD + ",,,,\n\n").encode())) == 2


def test_round_trip() -> None:
    entries = parse_kb_csv(GOOD.encode())
    text = write_kb_csv(entries)
    assert text.splitlines()[0] == ",".join(HEADER)
    assert parse_kb_csv(text.encode()) == entries


def test_export_refuses_a_separator_inside_a_list_item() -> None:
    with pytest.raises(ValueError, match="contains"):
        write_kb_csv([KbEntry("A1", "q", ("a|b",), "x")])


def test_progress_is_reported() -> None:
    rows = "".join(f"X{i},问题{i},,答案,\n" for i in range(1200))
    seen: list[int] = []
    parse_kb_csv(("id,question,similar_questions,answer,tags\n" + rows).encode(), seen.append)
    assert seen == [500, 1000, 1200]
    assert count_rows(GOOD.encode()) >= 2
