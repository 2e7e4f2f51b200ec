"""Helpers every CLI command shares: settings with a clean error, one-line failures."""

from __future__ import annotations

import sys
from typing import NoReturn

from pydantic import ValidationError

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
