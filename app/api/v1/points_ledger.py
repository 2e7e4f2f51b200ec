"""Admin: query the points ledger with filters, as JSON pages or a CSV export.

Read-only. Filters: member (`user_id` + `platform`), group (`chat_id`), reason code and a date
range (`since`/`until`: community days, `until` inclusive, or ISO datetimes). An unknown member
or group is a 404, a malformed filter a 422.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1.points_common import PLATFORMS, check_range, checked, parse_when
from app.api.v1.schemas import iso
from app.runtime import Runtime
from app.services.points_admin import LedgerFilter, LedgerRow, find_chat, find_member, ledger_rows
from app.services.points_config import load_points_config

router = APIRouter(prefix="/points", tags=["points"])
MAX_EXPORT_ROWS = 200_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "id",
    "created_at",
    "platform",
    "user_id",
    "member_name",
    "chat_id",
    "delta",
    "balance_after",
    "reason",
    "reason_label",
    "ref",
    "operator",
    "note",
    "idempotency_key",
)

Platform = Annotated[str, Query(pattern=PLATFORMS)]
Reason = Annotated[str | None, Query(pattern="^[a-z][a-z0-9_]{1,31}$")]


def _filters(
    session: Session,
    runtime: Runtime,
    *,
    platform: str,
    user_id: str | None,
    chat_id: str | None,
    reason: str | None,
    since: str | None,
    until: str | None,
    after_id: int = 0,
) -> LedgerFilter:
    tz = runtime.settings.tz
    start = parse_when(since, "since", tz, end=False)
    end = parse_when(until, "until", tz, end=True)
    check_range(start, end)
    member = checked(lambda: find_member(session, platform, user_id)) if user_id else None
    chat = checked(lambda: find_chat(session, platform, chat_id)) if chat_id else None
    return LedgerFilter(
        member_pk=member.id if member else None,
        chat_pk=chat.id if chat else None,
        reason=reason,
        since=start,
        until=end,
        after_id=after_id,
    )


def _cell(value: object) -> object:
    """Member names and notes are typed by people: a text starting with = + - @ would run as
    a formula in a spreadsheet, so it is prefixed with ' (numbers stay numbers)."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def _item(row: LedgerRow, runtime: Runtime) -> dict[str, Any]:
    entry = row.entry
    return {
        "id": entry.id,
        "created_at": iso(entry.created_at, runtime.settings.tz),
        "platform": row.platform,
        "user_id": row.user_id,
        "member_name": row.member_name,
        "chat_id": row.chat_id,
        "delta": entry.delta,
        "balance_after": entry.balance_after,
        "reason": entry.reason,
        "reason_label": load_points_config().reason_label(entry.reason),
        "ref": entry.ref,
        "operator": entry.operator,
        "note": entry.note,
        "idempotency_key": entry.idempotency_key,
    }


@router.get("/ledger")
def list_ledger(
    session: SessionDep,
    runtime: RuntimeDep,
    platform: Platform = "bridge",
    user_id: str | None = None,
    chat_id: str | None = None,
    reason: Reason = None,
    since: str | None = None,
    until: str | None = None,
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Ledger entries, oldest first after `after_id`; page on with `next_after_id`."""
    filters = _filters(
        session,
        runtime,
        platform=platform,
        user_id=user_id,
        chat_id=chat_id,
        reason=reason,
        since=since,
        until=until,
        after_id=after_id,
    )
    rows = ledger_rows(session, filters, limit=limit)
    items = [_item(row, runtime) for row in rows]
    return {"items": items, "next_after_id": items[-1]["id"] if len(items) == limit else None}


@router.get("/ledger.csv")
def export_ledger(
    session: SessionDep,
    runtime: RuntimeDep,
    platform: Platform = "bridge",
    user_id: str | None = None,
    chat_id: str | None = None,
    reason: Reason = None,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    """The same filters as CSV (UTF-8 with BOM, so spreadsheet apps show Chinese right)."""
    filters = _filters(
        session,
        runtime,
        platform=platform,
        user_id=user_id,
        chat_id=chat_id,
        reason=reason,
        since=since,
        until=until,
    )
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in ledger_rows(session, filters, limit=MAX_EXPORT_ROWS):
        writer.writerow({k: _cell(v) for k, v in _item(row, runtime).items()})
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="points-ledger.csv"'},
    )
