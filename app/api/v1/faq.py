"""Admin: the FAQ knowledge base — entries (CRUD), CSV import/export, a test match, statistics.

Every write is one transaction that also moves the KB version; right after it commits, this
process rebuilds its index (other processes notice the version and rebuild in the background),
so an edit answers members at once, without a restart. A bad CSV row is a 422 naming its line,
and nothing is imported. Entry ids are the operators' own (the CSV `id`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1.schemas import iso
from app.db.models import Chat, FaqEntry
from app.db.session import transaction
from app.faq.csv_io import KbImportError, parse_kb_csv, write_kb_csv
from app.messages import ChatRef, Platform
from app.runtime import Runtime
from app.services.faq import (
    EntryInput,
    FaqConflict,
    FaqInputError,
    FaqNotFound,
    FaqService,
    snapshot_loader,
)
from app.services.faq_stats import faq_stats
from app.services.members import MembersService

router = APIRouter(prefix="/faq", tags=["faq"])
MAX_IMPORT_BYTES = 20 * 1024 * 1024
Phrase = Annotated[str, Field(min_length=1, max_length=500)]
Tag = Annotated[str, Field(min_length=1, max_length=32)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScopeIn(_Strict):
    """Where an entry answers: groups by channel chat id (on `platform`) and/or chat tags.
    Both empty: every group."""

    chat_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=1000)
    ] = []
    platform: Annotated[str, Field(pattern="^(bridge|wecom_app|wecom_bot|console)$")] = "bridge"
    tags: Annotated[list[Tag], Field(max_length=20)] = []


class EntryBody(_Strict):
    """An entry's fields; naive validity times are community time."""

    question: Phrase
    similar_questions: Annotated[list[Phrase], Field(max_length=50)] = []
    answer: Annotated[str, Field(min_length=1, max_length=4000)]
    tags: Annotated[list[Tag], Field(max_length=20)] = []
    scope: ScopeIn = ScopeIn()
    enabled: bool = True
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class EntryIn(EntryBody):
    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s|,]+$")]


class MatchIn(_Strict):
    q: Annotated[str, Field(min_length=1, max_length=2000)]


def _service(session: Session, runtime: Runtime) -> FaqService:
    return FaqService(session, runtime.deps.faq, snapshot_loader(runtime.deps.session_factory))


def _refresh(runtime: Runtime) -> None:
    """Rebuild this process's index from the committed KB."""
    with transaction(runtime.deps.session_factory) as session:
        _service(session, runtime).refresh()


def _aware(at: datetime | None, runtime: Runtime) -> datetime | None:
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=runtime.settings.tz)


def _input(session: Session, runtime: Runtime, entry_id: str, body: EntryBody) -> EntryInput:
    members = MembersService(session)
    now = runtime.deps.clock.now()
    platform = Platform(body.scope.platform)
    chats = tuple(
        members.ensure_chat(ChatRef(platform, chat_id, True), now=now)
        for chat_id in dict.fromkeys(body.scope.chat_ids)
    )
    return EntryInput(
        external_id=entry_id,
        question=body.question,
        answer=body.answer,
        similar_questions=tuple(body.similar_questions),
        tags=tuple(body.tags),
        scope_chats=chats,
        scope_tags=tuple(body.scope.tags),
        enabled=body.enabled,
        valid_from=_aware(body.valid_from, runtime),
        valid_until=_aware(body.valid_until, runtime),
    )


def _out(session: Session, row: FaqEntry, runtime: Runtime) -> dict[str, Any]:
    chats = (
        session.execute(
            select(Chat.platform, Chat.external_id).where(Chat.id.in_(row.scope_chats))
        ).all()
        if row.scope_chats
        else []
    )
    tz = runtime.settings.tz
    return {
        "id": row.external_id,
        "question": row.question,
        "similar_questions": list(row.similar_questions),
        "answer": row.answer,
        "tags": list(row.tags),
        "scope": {
            "chats": [{"platform": p, "chat_id": c} for p, c in chats],
            "tags": list(row.scope_tags),
        },
        "enabled": row.enabled,
        "valid_from": iso(row.valid_from, tz),
        "valid_until": iso(row.valid_until, tz),
        "created_at": iso(row.created_at, tz),
        "updated_at": iso(row.updated_at, tz),
    }


def _write(runtime: Runtime, work: Any) -> dict[str, Any]:
    try:
        with transaction(runtime.deps.session_factory) as session:
            result: dict[str, Any] = work(session)
    except FaqNotFound as error:
        raise HTTPException(404, detail=str(error)) from None
    except FaqConflict as error:
        raise HTTPException(409, detail=str(error)) from None
    except FaqInputError as error:
        raise HTTPException(422, detail=str(error)) from None
    _refresh(runtime)
    return result


@router.get("/entries")
def list_entries(
    session: SessionDep,
    runtime: RuntimeDep,
    tag: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Entries in id order, optionally by tag or text."""
    rows = _service(session, runtime).find(tag=tag, q=q, limit=limit, offset=offset)
    return {"items": [_out(session, row, runtime) for row in rows]}


@router.get("/entries/{entry_id}")
def get_entry(entry_id: str, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    row = _service(session, runtime).get(entry_id)
    if row is None:
        raise HTTPException(404, detail=f"no entry {entry_id!r}")
    return _out(session, row, runtime)


@router.post("/entries", status_code=201)
def create_entry(body: EntryIn, runtime: RuntimeDep) -> dict[str, Any]:
    """Add an entry; 409 if the id is taken."""

    def work(session: Session) -> dict[str, Any]:
        data = _input(session, runtime, body.id, body)
        row = _service(session, runtime).create(data, now=runtime.deps.clock.now())
        return _out(session, row, runtime)

    return _write(runtime, work)


@router.put("/entries/{entry_id}")
def update_entry(entry_id: str, body: EntryBody, runtime: RuntimeDep) -> dict[str, Any]:
    """Replace an entry's fields; 404 if there is none."""

    def work(session: Session) -> dict[str, Any]:
        data = _input(session, runtime, entry_id, body)
        row = _service(session, runtime).update(data, now=runtime.deps.clock.now())
        return _out(session, row, runtime)

    return _write(runtime, work)


@router.delete("/entries/{entry_id}")
def delete_entry(entry_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    def work(session: Session) -> dict[str, Any]:
        if not _service(session, runtime).delete(entry_id):
            raise FaqNotFound(f"no entry {entry_id!r}")
        return {"id": entry_id, "deleted": True}

    return _write(runtime, work)


@router.post("/import")
async def import_csv(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    """Upsert entries from a CSV body (SPEC format); a bad row → 422 and nothing imported."""
    data = await request.body()
    if len(data) > MAX_IMPORT_BYTES:
        raise HTTPException(413, detail=f"file larger than {MAX_IMPORT_BYTES} bytes")
    return await run_in_threadpool(_import, data, runtime)


def _import(data: bytes, runtime: Runtime) -> dict[str, Any]:
    try:
        entries = parse_kb_csv(data)
    except KbImportError as error:
        raise HTTPException(422, detail=str(error)) from None

    def work(session: Session) -> dict[str, Any]:
        result = _service(session, runtime).import_entries(entries, now=runtime.deps.clock.now())
        return {"created": result.created, "updated": result.updated, "total": result.total}

    return _write(runtime, work)


@router.get("/export.csv")
def export_csv(session: SessionDep, runtime: RuntimeDep) -> Response:
    """Every entry in the import format."""
    text = write_kb_csv(_service(session, runtime).export())
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="faq.csv"'},
    )


@router.post("/match")
def match(body: MatchIn, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """What the matcher says about a text (every group, no cooldown, nothing recorded)."""
    result = _service(session, runtime).loaded().index.match(body.q)
    return {
        "q": body.q,
        "entry_id": result.entry_id,
        "score": round(result.score, 4),
        "reason": result.reason,
        "is_question": result.is_question,
        "candidates": [
            {"entry_id": c.entry_id, "score": round(c.score, 4)} for c in result.candidates[:5]
        ],
    }


@router.get("/stats")
def stats(
    session: SessionDep,
    runtime: RuntimeDep,
    days: Annotated[int, Query(ge=1, le=366)] = 28,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    """Hits per entry, the unanswered rate and top unanswered questions per week."""
    until = runtime.deps.clock.now()
    tz = runtime.settings.tz
    result = faq_stats(session, since=until - timedelta(days=days), until=until, tz=tz, top=top)
    return {
        "since": iso(result.since, tz),
        "until": iso(result.until, tz),
        "answered": result.answered,
        "unanswered": result.unanswered,
        "unanswered_rate": round(result.unanswered_rate, 4),
        "hits": [
            {
                "entry_id": h.entry_id,
                "question": h.question,
                "answers": h.answers,
                "cooldowns": h.cooldowns,
            }
            for h in result.hits
        ],
        "top_unanswered": [
            {
                "week_start": week.week_start.isoformat(),
                "questions": [{"text": text, "count": n} for text, n in week.questions],
            }
            for week in result.weeks
        ],
    }
