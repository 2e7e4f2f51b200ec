"""SQLite is set up for concurrent writers: WAL, a busy timeout, and no lost updates."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Chat
from app.db.session import transaction
from app.settings import normalize_database_url


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(engine: Engine, is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("SQLite pragmas")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert int(connection.execute(text("PRAGMA busy_timeout")).scalar() or 0) >= 5000


def test_read_modify_write_from_many_threads_loses_nothing_on_sqlite(
    session_factory: sessionmaker[Session], is_postgres: bool, clock: object
) -> None:
    """BEGIN IMMEDIATE makes a read-then-write transaction exclusive on SQLite."""
    if is_postgres:
        pytest.skip("PostgreSQL code uses atomic updates instead; see the ledger tests")
    from datetime import UTC, datetime

    with transaction(session_factory) as session:
        session.add(
            Chat(
                platform="bridge", external_id="c", name="0", created_at=datetime.now(UTC), tags=[]
            )
        )
    barrier = threading.Barrier(8)

    def bump() -> None:
        barrier.wait()
        for _ in range(25):
            with transaction(session_factory) as session:
                chat = session.scalars(select(Chat)).one()
                chat.name = str(int(chat.name or "0") + 1)

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with session_factory() as session:
        assert session.scalars(select(Chat.name)).one() == "200"


def test_database_url_is_normalised_for_psycopg() -> None:
    assert normalize_database_url("postgresql://a@b/c").startswith("postgresql+psycopg://")
