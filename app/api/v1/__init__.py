"""Admin API under /api/v1: bearer-token protected; one module per feature."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.deps import require_admin
from app.api.v1 import chats, outbox

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])
router.include_router(chats.router)
router.include_router(outbox.router)
