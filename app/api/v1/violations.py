"""Admin: the violation log (mod-log cases) and its review queue — appeals and owner tasks.

`GET /violations` lists cases newest first (SPEC shape plus the evidence), filtered by group,
member, time, status, category and rule, with offset paging; `/violations.csv` exports the same.
`POST /violations/{id}/confirm|overturn` review a case: overturning reverses its penalties.
Appeals (`/moderation/appeals`) are accepted (= overturn) or rejected (= confirm); owner tasks
(`/moderation/tasks`) are removals a channel could not do, marked done by a human.
Reads are read-only; every change happens in the request's transaction (nothing on a 4xx).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1.points_common import check_range, parse_when
from app.api.v1.schemas import Platform, iso
from app.db.models import Chat, Member, ModerationAppeal, ModerationTask
from app.runtime import Runtime
from app.services import Services
from app.services.moderation_actions import Reversal
from app.services.moderation_cases import (
    CaseFilter,
    CaseRow,
    case_row,
    count_cases,
    find_cases,
    find_cases_by_ids,
)
from app.services.moderation_config import ModerationError

router = APIRouter(tags=["moderation"])
T = TypeVar("T")
MAX_EXPORT_ROWS = 100_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
Status = Annotated[str | None, Query(pattern="^(open|confirmed|overturned)$")]
Category = Annotated[str | None, Query(pattern="^(ad|spam|abuse|scam|other)$")]
CSV_COLUMNS = (
    "id",
    "created_at",
    "platform",
    "chat_id",
    "chat_name",
    "user_id",
    "member_name",
    "rule",
    "category",
    "action",
    "status",
    "text",
    "normalized",
    "matched",
    "start",
    "end",
    "points_deducted",
    "reviewed_by",
    "review_note",
)


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str | None, Field(max_length=1000)] = None
    reviewer: Annotated[str | None, Field(max_length=64)] = None


class AppealDecision(Review):
    decision: Annotated[str, Field(pattern="^(accept|reject)$")]


def services(session: Session, runtime: Runtime) -> Services:
    return Services.build(session, runtime.deps)


def run(call: Callable[[], T]) -> T:
    """Run a service call; a ModerationError becomes an HTTP error (nothing is committed)."""
    try:
        return call()
    except ModerationError as error:
        raise HTTPException(error.status, detail=error.reason) from None


def case_item(row: CaseRow, runtime: Runtime) -> dict[str, Any]:
    case = row.case
    return {
        "id": case.id,
        "chat_id": row.chat_id,
        "user_id": row.user_id,
        "rule": case.rule,
        "category": case.category,
        "text": case.text,
        "action": "+".join(case.actions),
        "created_at": iso(case.created_at, runtime.settings.tz),
        "status": case.status,
        "platform": row.platform,
        "chat_name": row.chat_name,
        "member_name": row.member_name,
        "kind": case.kind,
        "normalized": case.normalized,
        "matched": case.matched,
        "start": case.start,
        "end": case.end,
        "hits": case.hits,
        "actions": case.actions,
        "ladder": case.ladder,
        "count": case.count,
        "points_deducted": case.points_deducted,
        "reviewed_at": iso(case.reviewed_at, runtime.settings.tz),
        "reviewed_by": case.reviewed_by,
        "review_note": case.review_note,
    }


def case_filter(
    session: SessionDep,
    runtime: RuntimeDep,
    platform: Platform = "bridge",
    chat_id: str | None = None,
    user_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
    status: Status = None,
    category: Category = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
) -> CaseFilter | None:
    """The query's filter, or None when the group or member is unknown (nothing matches).

    `since`/`until` are community days or ISO datetimes."""
    tz = runtime.settings.tz
    start = parse_when(since, "since", tz, end=False)
    end = parse_when(until, "until", tz, end=True)
    check_range(start, end)
    chat_pk = member_pk = None
    if chat_id is not None:
        chat_pk = session.scalar(
            select(Chat.id).where(Chat.platform == platform, Chat.external_id == chat_id)
        )
        if chat_pk is None:
            return None
    if user_id is not None:
        member_pk = session.scalar(
            select(Member.id).where(Member.platform == platform, Member.external_id == user_id)
        )
        if member_pk is None:
            return None
    return CaseFilter(chat_pk, member_pk, start, end, status, category, rule)


FilterDep = Annotated[CaseFilter | None, Depends(case_filter)]


@router.get("/violations")
def list_violations(
    session: SessionDep,
    runtime: RuntimeDep,
    where: FilterDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Cases newest first, filtered by group, member, time, status, category and rule."""
    if where is None:
        return {"items": [], "total": 0, "limit": limit, "offset": offset, "next_offset": None}
    rows = find_cases(session, where, limit=limit, offset=offset)
    total = count_cases(session, where)
    more = offset + len(rows) < total
    return {
        "items": [case_item(row, runtime) for row in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + len(rows) if more else None,
    }


@router.get("/violations.csv")
def export_violations(session: SessionDep, runtime: RuntimeDep, where: FilterDep) -> Response:
    """The same filters as CSV (UTF-8 with BOM, so spreadsheet apps show Chinese right)."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    rows = [] if where is None else find_cases(session, where, limit=MAX_EXPORT_ROWS)
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in case_item(row, runtime).items()})
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="violations.csv"'},
    )


def _cell(value: object) -> object:
    """Texts typed by members could run as spreadsheet formulas: prefix those with '."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


@router.get("/violations/{case_id}")
def get_violation(case_id: int, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """One case with its appeal and owner tasks."""
    row = case_row(session, case_id)
    if row is None:
        raise HTTPException(404, detail=f"no case {case_id}")
    appeal = services(session, runtime).moderation.review.appeal_of(case_id)
    tasks = session.scalars(select(ModerationTask).where(ModerationTask.case_id == case_id))
    return {
        **case_item(row, runtime),
        "appeal": None if appeal is None else _appeal(appeal, runtime),
        "tasks": [_task(task, row, runtime) for task in tasks],
    }


@router.post("/violations/{case_id}/confirm")
def confirm_violation(
    case_id: int, body: Review, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    review = services(session, runtime).moderation.review
    run(lambda: review.confirm(case_id, by=body.reviewer or "admin", note=body.note))
    return _case(session, runtime, case_id)


@router.post("/violations/{case_id}/overturn")
def overturn_violation(
    case_id: int, body: Review, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Overturn a case: refund its points, lift its blacklist entry, cancel its removal."""
    review = services(session, runtime).moderation.review
    _, reversal = run(
        lambda: review.overturn(case_id, by=body.reviewer or "admin", note=body.note)
    )
    return {**_case(session, runtime, case_id), "reversal": _reversal(reversal)}


@router.get("/moderation/appeals")
def list_appeals(
    session: SessionDep,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern="^(open|accepted|rejected)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Members' appeals (open ones by default), newest first, each with its case."""
    appeals = services(session, runtime).moderation.review.appeals(
        status, limit=limit, offset=offset
    )
    rows = {row.case.id: row for row in find_cases_by_ids(session, [a.case_id for a in appeals])}
    return {
        "items": [
            {**_appeal(appeal, runtime), "case": case_item(rows[appeal.case_id], runtime)}
            for appeal in appeals
        ]
    }


@router.post("/moderation/appeals/{appeal_id}/resolve")
def resolve_appeal(
    appeal_id: int, body: AppealDecision, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Accept (overturns the case and reverses its penalties) or reject (confirms it)."""
    review = services(session, runtime).moderation.review
    appeal, case, reversal = run(
        lambda: review.resolve_appeal(
            appeal_id,
            accept=body.decision == "accept",
            by=body.reviewer or "admin",
            note=body.note,
        )
    )
    return {
        "appeal": _appeal(appeal, runtime),
        "case": _case(session, runtime, case.id),
        "reversal": None if reversal is None else _reversal(reversal),
    }


@router.get("/moderation/tasks")
def list_tasks(
    session: SessionDep,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern="^(open|done|cancelled)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Owner tasks: members to remove by hand where the channel cannot (oldest first)."""
    stmt = select(ModerationTask).order_by(ModerationTask.id)
    if status is not None:
        stmt = stmt.where(ModerationTask.status == status)
    tasks = list(session.scalars(stmt.limit(limit).offset(offset)))
    rows = {row.case.id: row for row in find_cases_by_ids(session, [t.case_id for t in tasks])}
    return {"items": [_task(task, rows[task.case_id], runtime) for task in tasks]}


@router.post("/moderation/tasks/{task_id}/done")
def finish_task(
    task_id: int, body: Review, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    task = session.get(ModerationTask, task_id, with_for_update=True)
    if task is None:
        raise HTTPException(404, detail=f"no task {task_id}")
    if task.status != "open":
        raise HTTPException(409, detail=f"task {task_id} is already {task.status}")
    task.status = "done"
    task.resolved_at = runtime.deps.clock.now()
    task.resolved_by = body.reviewer or "admin"
    row = case_row(session, task.case_id)
    assert row is not None
    return _task(task, row, runtime)


def _case(session: Session, runtime: Runtime, case_id: int) -> dict[str, Any]:
    session.flush()
    row = case_row(session, case_id)
    assert row is not None
    return case_item(row, runtime)


def _appeal(appeal: ModerationAppeal, runtime: Runtime) -> dict[str, Any]:
    tz = runtime.settings.tz
    return {
        "id": appeal.id,
        "case_id": appeal.case_id,
        "reason": appeal.reason,
        "status": appeal.status,
        "created_at": iso(appeal.created_at, tz),
        "resolved_at": iso(appeal.resolved_at, tz),
        "resolved_by": appeal.resolved_by,
        "resolution": appeal.resolution,
    }


def _task(task: ModerationTask, row: CaseRow, runtime: Runtime) -> dict[str, Any]:
    tz = runtime.settings.tz
    return {
        "id": task.id,
        "case_id": task.case_id,
        "kind": task.kind,
        "platform": row.platform,
        "chat_id": row.chat_id,
        "chat_name": row.chat_name,
        "user_id": row.user_id,
        "member_name": row.member_name,
        "reason": task.reason,
        "status": task.status,
        "created_at": iso(task.created_at, tz),
        "resolved_at": iso(task.resolved_at, tz),
        "resolved_by": task.resolved_by,
    }


def _reversal(reversal: Reversal) -> dict[str, Any]:
    return {
        "refunded_points": reversal.refunded,
        "blacklist_lifted": reversal.blacklist_lifted,
        "tasks_cancelled": reversal.tasks_cancelled,
        "removal": reversal.removal,
    }
