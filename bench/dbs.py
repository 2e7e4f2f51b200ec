"""Databases for benchmarks: a fresh SQLite file, and a fresh PostgreSQL database when
BENCH_DATABASE_URL (an admin URL such as postgresql://postgres@127.0.0.1:55432/postgres) is set."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.db.migrate import upgrade
from app.settings import normalize_database_url


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="qunyun-bench-") as directory:
        url = f"sqlite:///{Path(directory) / 'bench.db'}"
        upgrade(url)
        yield url


@contextmanager
def postgres_database() -> Iterator[str | None]:
    admin_url = os.environ.get("BENCH_DATABASE_URL")
    if not admin_url:
        yield None
        return
    admin_url = normalize_database_url(admin_url)
    name = f"qunyun_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def databases() -> Iterator[tuple[str, str]]:
    """Yield ("sqlite", url) and, when configured, ("postgresql", url)."""
    with sqlite_database() as url:
        yield "sqlite", url
    with postgres_database() as pg_url:
        if pg_url is None:
            print("(PostgreSQL skipped: set BENCH_DATABASE_URL to an admin URL to include it)")
        else:
            yield "postgresql", pg_url
