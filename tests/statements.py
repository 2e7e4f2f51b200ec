"""Capture the SQL statements an engine runs, for tests that count a batch's round trips."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


@contextmanager
def statements(engine: Any, matches: Callable[[str], bool]) -> Iterator[list[str]]:
    """The statements `engine` runs inside the block that `matches` accepts, in order."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if matches(statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
