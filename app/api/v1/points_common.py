"""Shared pieces of the points admin API: service construction, input errors, time filters.

No routes; used by app/api/v1/points.py, points_ledger.py and checkin.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from fastapi import HTTPException
from sqlalchemy.orm import Session

from app.runtime import Runtime
from app.services.points import PointsService
from app.services.points_admin import AdminInputError
from app.services.points_config import load_points_config

PLATFORMS = "^(bridge|wecom_app|wecom_bot|console)$"
T = TypeVar("T")


def points_service(session: Session, runtime: Runtime) -> PointsService:
    return PointsService(session, load_points_config(), runtime.deps.clock, runtime.settings.tz)


def checked(call: Callable[[], T]) -> T:
    """Run a service call; its AdminInputError becomes an HTTP error (the request's
    transaction then rolls back, so nothing of it is stored)."""
    try:
        return call()
    except AdminInputError as error:
        raise HTTPException(error.status, detail=error.reason) from None


def parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, detail=f"{name} must be a date like 2026-11-23") from None


def parse_when(value: str | None, name: str, tz: ZoneInfo, *, end: bool) -> datetime | None:
    """A filter bound: a date (community day; `until` includes that whole day) or an ISO
    datetime (without an offset it is community time)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) == 10:
        start = datetime.combine(parse_day(value, name), time(), tz)
        return start + timedelta(days=1) if end else start
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, detail=f"{name} must be a date or an ISO 8601 datetime") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise HTTPException(422, detail="since must be before until")
