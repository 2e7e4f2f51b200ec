"""Admin: the outbox (deliveries and the dead-letter list) and resending a dead delivery."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, select

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1.schemas import iso
from app.db.models import Chat, OutboxRow
from app.outbox import requeue_dead

router = APIRouter(tags=["outbox"])
STATUSES = "^(queued|sending|sent|failed|dead|missed|awaiting_confirmation)$"


@router.get("/outbox")
def list_outbox(
    session: SessionDep,
    runtime: RuntimeDep,
    status: Annotated[str | None, Query(pattern=STATUSES)] = None,
    chat_id: str | None = None,
    platform: Annotated[str, Query(pattern="^(bridge|wecom_app|wecom_bot|console)$")] = "bridge",
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Deliveries, oldest first after `after_id`; `status=dead` is the dead-letter list."""
    stmt = select(OutboxRow).where(OutboxRow.id > after_id)
    if status:
        stmt = stmt.where(OutboxRow.status == status)
    if chat_id:
        stmt = stmt.join(Chat, Chat.id == OutboxRow.chat_id).where(
            Chat.external_id == chat_id, Chat.platform == platform
        )
    rows = session.scalars(stmt.order_by(OutboxRow.id).limit(limit)).all()
    tz = runtime.settings.tz
    by_status = select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
    counts = {state: count for state, count in session.execute(by_status)}
    return {
        "items": [
            {
                "id": row.id,
                "key": row.idempotency_key,
                "channel": row.channel,
                "target": row.target,
                "kind": row.kind,
                "text": row.text,
                "mentions": row.mention_ids,
                "status": row.status,
                "attempts": row.attempts,
                "created_at": iso(row.created_at, tz),
                "next_attempt_at": iso(row.next_attempt_at, tz),
                "sent_at": iso(row.sent_at, tz),
                "last_error": row.last_error,
            }
            for row in rows
        ],
        "counts": counts,
    }


@router.post("/outbox/{outbox_id}/retry")
def retry_dead(outbox_id: int, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    if session.get(OutboxRow, outbox_id) is None:
        raise HTTPException(404, detail="no such delivery")
    if not requeue_dead(session, outbox_id, now=runtime.deps.clock.now()):
        raise HTTPException(409, detail="only a dead delivery can be retried")
    runtime.outbox.wake()
    return {"id": outbox_id, "status": "queued"}
