"""Helpers every CLI command shares: settings and the database with a clean error, one-line
failures."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.db.migrate import upgrade
from app.db.session import make_engine, make_session_factory
from app.devsecrets import with_dev_secrets
from app.settings import Settings


def fail(reason: str, code: int = 2) -> NoReturn:
    print(f"error: {reason}", file=sys.stderr)
    raise SystemExit(code)


def load_settings() -> Settings:
    """Settings from the environment; a bad value is a one-line error, not a traceback."""
    try:
        settings = Settings()
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]).upper() or "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        fail(f"{where}: {message}" if where != "SETTINGS" else message)
    return with_dev_secrets(settings)


def unreachable(error: OperationalError) -> NoReturn:
    """The driver's first line, not a traceback."""
    fail(f"cannot reach the database: {str(error.orig).strip().splitlines()[0]}")


@contextmanager
def open_database(settings: Settings, *, migrate: bool = False) -> Iterator[sessionmaker[Session]]:
    """A session factory on DATABASE_URL (migrated first when asked), disposed afterwards;
    an unreachable database is a one-line error."""
    try:
        if migrate:
            upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            yield make_session_factory(engine)
        finally:
            engine.dispose()
    except OperationalError as error:
        unreachable(error)
