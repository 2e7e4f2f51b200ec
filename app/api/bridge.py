"""POST /callbacks/bridge: verify, store, acknowledge. Processing happens in the inbox worker."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.adapters import bridge
from app.api.body import signed_body
from app.api.deps import runtime_of
from app.inbox import InboxItem, StoreOutcome

router = APIRouter(tags=["callbacks"])


@router.post("/callbacks/bridge")
async def receive_bridge(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    secret = runtime.settings.bridge_secret
    body = await signed_body(
        request, runtime, secret, "the bridge is not configured (BRIDGE_SECRET)"
    )
    message = bridge.to_message(bridge.parse(body))
    outcome = await runtime.writer.store(InboxItem(message))
    if outcome is StoreOutcome.DUPLICATE:
        return JSONResponse({"ok": True, "duplicate": True})
    return JSONResponse({"ok": True})
