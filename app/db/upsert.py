"""Portable `INSERT … ON CONFLICT` helpers for SQLite and PostgreSQL.

Rows are passed as execution parameters (not baked into the statement), and statements that
run on every message are built once per dialect (`cached_statement`): building and compiling
them was most of their cost.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

_STATEMENTS: dict[tuple[str, Hashable], Any] = {}


def dialect_insert(dialect: str) -> Callable[..., Any]:
    """The dialect's `insert()` construct (it has `on_conflict_*` and `excluded`)."""
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert  # type: ignore[no-any-return]


def cached_statement(session: Session, key: Hashable, build: Callable[[str], Any]) -> Any:
    """Build a statement once per (dialect, key) and reuse it."""
    dialect = session.get_bind().dialect.name
    statement = _STATEMENTS.get((dialect, key))
    if statement is None:
        statement = _STATEMENTS[(dialect, key)] = build(dialect)
    return statement


def insert_ignore(
    session: Session,
    model: type[Any],
    rows: Sequence[dict[str, Any]],
    conflict_columns: list[str],
    returning: InstrumentedAttribute[Any],
) -> set[Any]:
    """Insert rows, skipping those that violate the unique index on `conflict_columns`.

    Returns the `returning` values of the rows actually inserted. The statement is built on the
    model's table, not the entity: the ORM's bulk-insert bookkeeping cost more than the insert
    (measured on the webhook's inbox writes), and these rows never become ORM objects here.
    """
    if not rows:
        return set()
    table = model.__table__
    column = table.c[returning.key]

    def build(dialect: str) -> Any:
        insert = dialect_insert(dialect)(table)
        return insert.on_conflict_do_nothing(index_elements=conflict_columns).returning(column)

    stmt = cached_statement(session, ("ignore", model, tuple(conflict_columns), returning), build)
    if len(rows) == 1:
        return set(session.execute(stmt, rows[0]).scalars().all())
    return set(session.execute(stmt, list(rows)).scalars().all())
