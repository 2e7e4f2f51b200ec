"""`INSERT … ON CONFLICT DO NOTHING RETURNING` for SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session


def insert_ignore(
    session: Session,
    model: type[Any],
    rows: Sequence[dict[str, Any]],
    conflict_columns: list[str],
    returning: InstrumentedAttribute[Any],
) -> set[Any]:
    """Insert rows, skipping those that violate the unique index on `conflict_columns`.

    Returns the `returning` values of the rows actually inserted.
    """
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    stmt = (
        module.insert(model)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(returning)
    )
    return set(session.scalars(stmt).all())
