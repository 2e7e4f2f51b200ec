"""List filters: the same rows whichever form a statement uses, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Member
from app.db.session import transaction
from app.db.upsert import matches_any, one_of

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
ListFilter = Callable[[str, Any, str], ColumnElement[bool]]


@pytest.mark.parametrize("list_filter", [one_of, matches_any])
def test_a_list_filter_keeps_exactly_the_listed_values(
    session_factory: sessionmaker[Session], list_filter: ListFilter
) -> None:
    with transaction(session_factory) as session:
        for user in ("u-1", "u-2", "u-3", "u-4"):
            session.add(
                Member(platform="bridge", external_id=user, first_seen_at=T0, last_active_at=T0)
            )
    with transaction(session_factory) as session:
        dialect = session.get_bind().dialect.name
        # Rows a query computes (numbered by a window), then filtered: as the waitlist reads.
        numbered = select(
            Member.external_id, func.row_number().over(order_by=Member.id).label("n")
        ).subquery()
        stmt = select(numbered.c.external_id, numbered.c.n).where(
            list_filter(dialect, numbered.c.external_id, "users")
        )
        found = session.execute(stmt, {"users": ["u-4", "u-2", "u-9"]}).all()
        nothing = session.execute(stmt, {"users": []}).all()

    assert sorted((user, int(n)) for user, n in found) == [("u-2", 2), ("u-4", 4)]
    assert nothing == []
