"""Knowledge-base CSV import and export in the SPEC format.

`parse_kb_csv` runs when an operator imports a file (`qunyun faq import PATH`, the admin API); it
checks the whole file before anything is stored, so a bad row rejects the import with its line
number and nothing is half-imported. `write_kb_csv` runs on export. Both are pure.

Format: UTF-8 (a BOM is accepted), header exactly `id,question,similar_questions,answer,tags`,
RFC 4180 quoting, `similar_questions` and `tags` split on `|`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator

from app.faq.index import KbEntry

HEADER: tuple[str, ...] = ("id", "question", "similar_questions", "answer", "tags")
MAX_ID_LENGTH = 64
_PROGRESS_EVERY = 500


class KbImportError(ValueError):
    """A knowledge-base file that cannot be imported; `line` is 1-based, the header is line 1."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def parse_kb_csv(data: bytes, progress: Callable[[int], None] | None = None) -> list[KbEntry]:
    """Parse and check a whole KB file; raise `KbImportError` on the first bad line.

    `progress`, if given, is called with the number of rows read so far every 500 rows and once
    at the end, so a command line can draw a progress bar for large files.
    """
    text = _decode(data)
    entries: list[KbEntry] = []
    first_line: dict[str, int] = {}
    for line, row in _rows(text):
        if line == 1:
            _check_header(row)
            continue
        if not any(cell.strip() for cell in row):
            continue
        entry = _entry(line, row)
        if entry.id in first_line:
            raise KbImportError(
                line, f"duplicate id {entry.id!r} (first used on line {first_line[entry.id]})"
            )
        first_line[entry.id] = line
        entries.append(entry)
        if progress is not None and len(entries) % _PROGRESS_EVERY == 0:
            progress(len(entries))
    if not first_line and not text.strip():
        raise KbImportError(1, "the file is empty; expected the header " + ",".join(HEADER))
    if progress is not None:
        progress(len(entries))
    return entries


def count_rows(data: bytes) -> int:
    """A cheap upper bound of the data rows in a file, for sizing a progress bar."""
    return max(data.count(b"\n") - 1, 0) + (0 if data.endswith(b"\n") else 1)


def write_kb_csv(entries: Iterable[KbEntry]) -> str:
    """The entries as a CSV text in the import format (round-trips through `parse_kb_csv`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    for entry in entries:
        writer.writerow(
            (
                entry.id,
                entry.question,
                _join(entry.similar_questions, entry.id),
                entry.answer,
                _join(entry.tags, entry.id),
            )
        )
    return buffer.getvalue()


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise KbImportError(line, "the file is not valid UTF-8 (save it as UTF-8 CSV)") from None


def _rows(text: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise KbImportError(start, f"malformed CSV: {exc}") from None
        yield start, row
        start = reader.line_num + 1


def _check_header(row: list[str]) -> None:
    names = tuple(cell.strip() for cell in row)
    if names != HEADER:
        raise KbImportError(
            1, f"the header must be exactly {','.join(HEADER)} (got {','.join(row) or 'nothing'})"
        )


def _entry(line: int, row: list[str]) -> KbEntry:
    if len(row) != len(HEADER):
        raise KbImportError(line, f"expected {len(HEADER)} columns, found {len(row)}")
    entry_id, question, similar, answer, tags = (cell.strip() for cell in row)
    if not entry_id:
        raise KbImportError(line, "missing id")
    if len(entry_id) > MAX_ID_LENGTH or any(char.isspace() for char in entry_id):
        raise KbImportError(line, f"bad id {entry_id!r}: no spaces, at most {MAX_ID_LENGTH} chars")
    if not question:
        raise KbImportError(line, f"missing question for id {entry_id!r}")
    if not answer:
        raise KbImportError(line, f"missing answer for id {entry_id!r}")
    return KbEntry(
        id=entry_id,
        question=question,
        similar_questions=_split(similar),
        answer=answer,
        tags=_split(tags),
    )


def _split(cell: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip() for part in cell.split("|") if part.strip()))


def _join(parts: tuple[str, ...], entry_id: str) -> str:
    for part in parts:
        if "|" in part:
            raise ValueError(f"entry {entry_id!r}: {part!r} contains '|', the list separator")
    return "|".join(parts)
