"""Admin API under /api/v1: bearer-token protected; one module per feature."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.deps import require_admin
from app.api.v1 import (
    calendar,
    chats,
    checkin,
    faq,
    flash_sales,
    moderation,
    outbox,
    points,
    points_ledger,
    posts,
    tickets,
    violations,
)

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_admin)])
router.include_router(chats.router)
router.include_router(outbox.router)
router.include_router(points.router)
router.include_router(points_ledger.router)
router.include_router(checkin.router)
router.include_router(posts.router)
router.include_router(calendar.router)
router.include_router(flash_sales.router)
router.include_router(faq.router)
router.include_router(tickets.router)
router.include_router(violations.router)
router.include_router(moderation.router)
