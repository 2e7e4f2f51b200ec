"""POST /callbacks/bridge: verify, store, acknowledge. Processing happens in the inbox worker."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.adapters import bridge
from app.adapters.errors import forbidden
from app.api.body import read_capped
from app.api.deps import runtime_of
from app.inbox import InboxItem, StoreOutcome

router = APIRouter(tags=["callbacks"])


@router.post("/callbacks/bridge")
async def receive_bridge(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    settings = runtime.settings
    if settings.bridge_secret is None:
        raise forbidden("the bridge is not configured (BRIDGE_SECRET)")
    body = await read_capped(request, settings.max_callback_body_bytes)
    bridge.verify(
        settings.bridge_secret.get_secret_value().encode(),
        request.headers.get("x-qunyun-timestamp"),
        request.headers.get("x-qunyun-signature"),
        body,
        clock=runtime.deps.clock,
        max_age_seconds=settings.callback_max_age_seconds,
    )
    message = bridge.to_message(bridge.parse(body))
    outcome = await runtime.writer.store(InboxItem(message))
    if outcome is StoreOutcome.DUPLICATE:
        return JSONResponse({"ok": True, "duplicate": True})
    return JSONResponse({"ok": True})
