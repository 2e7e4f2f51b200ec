"""Shared admin API shapes and helpers (times are ISO 8601 with offset)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Query
from pydantic import BaseModel

Platform = Annotated[str, Query(pattern="^(bridge|wecom_app|wecom_bot|console)$")]


class Page(BaseModel):
    limit: int = 100
    offset: int = 0


def iso(at: datetime | None, tz: ZoneInfo) -> str | None:
    return at.astimezone(tz).isoformat() if at is not None else None
