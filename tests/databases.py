"""Test databases: a fresh SQLite file per test, or PostgreSQL truncated between tests.

Set TEST_DATABASE_URL=postgresql://user@host:port/db to run the suite on PostgreSQL; a
dedicated database is created for the run (and dropped at the end). Both are built by the
real migrations, so every test run also checks them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from app.db.migrate import upgrade
from app.db.models import Base
from app.settings import normalize_database_url


def postgres_admin_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL", "")
    return normalize_database_url(url) if url.startswith("postgres") else None


class PostgresTemplate:
    """One database per test run; tables truncated before each test."""

    def __init__(self, admin_url: str) -> None:
        self._admin_url = admin_url
        self.name = f"qunyun_test_{uuid.uuid4().hex[:10]}"
        self.url = (
            make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        )

    def create(self) -> None:
        admin = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        upgrade(self.url)

    def drop(self) -> None:
        admin = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()

    def clean(self, engine: Engine) -> None:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


class SqliteTemplate:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""

    def __init__(self, directory: Path) -> None:
        self._template = directory / "template.db"

    def create(self) -> None:
        upgrade(f"sqlite:///{self._template}")

    def fresh_url(self, directory: Path) -> str:
        target = directory / f"test-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(self._template, target)
        return f"sqlite:///{target}"
