"""Admin: flash sales (限时秒杀) — create, edit (until the start), cancel, live stock and claims.

Every request is one transaction (nothing is written when it fails). Creating or moving a sale
(re)schedules its calendar announcements; cancelling one cancels its pending orders and
announcements. Orders, the funnel, winners and the block list are in flash_sale_orders.py.
SPEC shapes: `POST /flash-sales` → `{"id"}`; `GET /flash-sales/{id}` → `{"items": [{"number",
"stock" (left), "claimed" (pending or paid)}], …}`; money is a decimal string.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1 import flash_sale_orders
from app.api.v1.schemas import iso
from app.db.models import Chat
from app.messages import ChatRef, Platform
from app.runtime import Runtime
from app.services.campaigns import CampaignAnnouncements
from app.services.flash_sale_admin import (
    FlashSaleAdmin,
    ItemInput,
    ItemStats,
    SaleInput,
    SaleNotFound,
    SaleStateError,
    campaign_key,
)
from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sale_views import SaleView, money, parse_money
from app.services.members import MembersService
from app.services.points_config import load_points_config

router = APIRouter(tags=["flash-sales"])
router.include_router(flash_sale_orders.router)
PLATFORMS = "^(bridge|wecom_app|wecom_bot|console)$"
Url = Annotated[str, Field(pattern="^https?://", max_length=1024)]
ChatId = Annotated[str, Field(min_length=1, max_length=128)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemIn(_Strict):
    number: Annotated[int, Field(ge=1, le=9999)]
    name: Annotated[str, Field(min_length=1, max_length=128)]
    price: Annotated[str, Field(pattern=r"^\d{1,7}(\.\d{1,2})?$")] = "0"
    points_price: Annotated[int | None, Field(ge=1, le=10_000_000)] = None
    stock: Annotated[int, Field(ge=1, le=1_000_000)]
    per_member_limit: Annotated[int, Field(ge=1, le=100)] = 1
    image_url: Url | None = None
    link_url: Url | None = None


class SaleIn(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    chat_ids: Annotated[list[ChatId], Field(min_length=1, max_length=200)]
    platform: Annotated[str, Field(pattern=PLATFORMS)] = "bridge"
    starts_at: datetime
    ends_at: datetime
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=100)]
    payment_window_minutes: Annotated[int | None, Field(ge=1, le=10080)] = None
    min_level: Annotated[int | None, Field(ge=1, le=100)] = None
    joined_before: datetime | None = None
    exclude_blocked: bool = True
    waitlist: bool = True
    early_access: bool = True
    by: Annotated[str | None, Field(max_length=64)] = None


class SaleEdit(_Strict):
    """Fields to change (only before the sale starts); omitted ones keep their value."""

    name: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    chat_ids: Annotated[list[ChatId] | None, Field(min_length=1, max_length=200)] = None
    platform: Annotated[str, Field(pattern=PLATFORMS)] = "bridge"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    items: Annotated[list[ItemIn] | None, Field(min_length=1, max_length=100)] = None
    payment_window_minutes: Annotated[int | None, Field(ge=1, le=10080)] = None
    min_level: Annotated[int | None, Field(ge=1, le=100)] = None
    joined_before: datetime | None = None
    exclude_blocked: bool | None = None
    waitlist: bool | None = None
    early_access: bool | None = None


class CancelIn(_Strict):
    by: Annotated[str | None, Field(max_length=64)] = None


# -- helpers --------------------------------------------------------------------------------
def admin_for(session: Session, runtime: Runtime) -> FlashSaleAdmin:
    return FlashSaleAdmin(
        session, load_flash_sale_config(), tz=runtime.settings.tz, now=runtime.deps.clock.now()
    )


def sale_or_404(admin: FlashSaleAdmin, sale_id: int) -> SaleView:
    try:
        return admin.sale(sale_id)
    except SaleNotFound:
        raise HTTPException(404, detail=f"no flash sale {sale_id}") from None


def _aware(at: datetime, runtime: Runtime) -> datetime:
    """Naive times are the community's local time."""
    return at if at.tzinfo is not None else at.replace(tzinfo=runtime.settings.tz)


def _maybe_aware(at: datetime | None, runtime: Runtime) -> datetime | None:
    return None if at is None else _aware(at, runtime)


def _items(items: list[ItemIn]) -> tuple[ItemInput, ...]:
    return tuple(
        ItemInput(
            number=i.number,
            name=i.name.strip(),
            price_cents=parse_money(i.price),
            stock=i.stock,
            per_member_limit=i.per_member_limit,
            points_price=i.points_price,
            image_url=i.image_url,
            link_url=i.link_url,
        )
        for i in items
    )


def _check_level(level: int | None) -> None:
    known = {lv.level for lv in load_points_config().levels}
    if level is not None and level not in known:
        raise HTTPException(422, detail=f"min_level {level} is not a configured level")


def _chat_pks(
    session: Session, runtime: Runtime, platform: str, ids: list[str]
) -> tuple[int, ...]:
    """Chat ids → chats.id; a group not seen yet is registered (SPEC: an admin may)."""
    members, now = MembersService(session), runtime.deps.clock.now()
    return tuple(
        members.ensure_chat(ChatRef(Platform(platform), chat_id, True), now=now)
        for chat_id in dict.fromkeys(ids)
    )


def _run(call: Any) -> Any:
    try:
        return call()
    except SaleStateError as error:
        raise HTTPException(409, detail=str(error)) from None
    except ValueError as error:
        raise HTTPException(422, detail=str(error)) from None


def _item_out(stats: ItemStats) -> dict[str, Any]:
    item = stats.item
    return {
        "number": item.number,
        "name": item.name,
        "price": money(item.price_cents),
        "points_price": item.points_price,
        "stock": item.stock,
        "claimed": stats.claimed,
        "paid": stats.paid,
        "pending": stats.pending,
        "total": item.total,
        "per_member_limit": item.per_member_limit,
        "image_url": item.image_url,
        "link_url": item.link_url,
    }


def sale_out(
    session: Session, runtime: Runtime, admin: FlashSaleAdmin, sale: SaleView
) -> dict[str, Any]:
    tz = runtime.settings.tz
    stats = admin.item_stats(sale.id)
    chats = session.scalars(select(Chat).where(Chat.id.in_(admin.chat_pks(sale.id)))).all()
    announcements = CampaignAnnouncements.announcements(session, campaign_key(sale.id))
    return {
        "id": sale.id,
        "name": sale.name,
        "status": admin.status(sale),
        "starts_at": iso(sale.starts_at, tz),
        "ends_at": iso(sale.ends_at, tz),
        "chat_ids": [c.external_id for c in chats],
        "chats": [
            {"platform": c.platform, "chat_id": c.external_id, "name": c.name} for c in chats
        ],
        "payment_window_minutes": sale.payment_window_minutes,
        "eligibility": {
            "min_level": sale.min_level,
            "joined_before": iso(sale.joined_before, tz),
            "exclude_blocked": sale.exclude_blocked,
        },
        "waitlist": sale.waitlist,
        "early_access": sale.early_access,
        "items": [_item_out(s) for s in stats],
        "totals": {
            "total": sum(s.item.total for s in stats),
            "stock": sum(s.item.stock for s in stats),
            "claimed": sum(s.claimed for s in stats),
            "paid": sum(s.paid for s in stats),
        },
        "announcements": [
            {"key": a.template_key, "due_at": iso(p.next_due_at, tz), "status": p.status}
            for a, p in announcements
        ],
    }


# -- routes ---------------------------------------------------------------------------------
@router.post("/flash-sales")
def create_sale(body: SaleIn, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Create a sale and schedule its announcements; `{"id": …}`."""
    _check_level(body.min_level)
    admin = admin_for(session, runtime)
    data = SaleInput(
        name=body.name.strip(),
        chat_pks=_chat_pks(session, runtime, body.platform, body.chat_ids),
        starts_at=_aware(body.starts_at, runtime),
        ends_at=_aware(body.ends_at, runtime),
        items=_items(body.items),
        payment_window_minutes=body.payment_window_minutes or admin.config.payment_window_minutes,
        min_level=body.min_level,
        joined_before=_maybe_aware(body.joined_before, runtime),
        exclude_blocked=body.exclude_blocked,
        waitlist=body.waitlist,
        early_access=body.early_access,
    )
    # A refused sale raises here; the request's transaction (new groups included) rolls back.
    sale_id: int = _run(lambda: admin.create(data, created_by=body.by))
    return {"id": sale_id}


@router.get("/flash-sales")
def list_sales(
    session: SessionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Sales, latest start first, each with live stock and claim counts."""
    admin = admin_for(session, runtime)
    ids = admin.sale_ids(limit=limit, offset=offset)
    return {"items": [sale_out(session, runtime, admin, admin.sale(i)) for i in ids]}


@router.get("/flash-sales/{sale_id}")
def get_sale(sale_id: int, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """One sale with live stock (`stock` = left) and claims (`claimed` = pending or paid).
    `status`: scheduled, early_access (levels with early access may claim; from the longest
    early lead before the start, unless the sale opted out), running, ended or cancelled."""
    admin = admin_for(session, runtime)
    return sale_out(session, runtime, admin, sale_or_404(admin, sale_id))


@router.patch("/flash-sales/{sale_id}")
def edit_sale(
    sale_id: int, body: SaleEdit, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Change a sale before it opens (its start, earlier with levels' early access; its
    announcements move with it); 409 after."""
    _check_level(body.min_level)
    admin = admin_for(session, runtime)
    sale = sale_or_404(admin, sale_id)
    data = _merged(session, runtime, admin, sale, body)
    _run(lambda: admin.edit(sale_id, data))
    return sale_out(session, runtime, admin, admin.sale(sale_id))


def _merged(
    session: Session, runtime: Runtime, admin: FlashSaleAdmin, sale: SaleView, body: SaleEdit
) -> SaleInput:
    given = body.model_fields_set
    current_items = [
        ItemInput(
            i.number, i.name, i.price_cents, i.total, i.per_member_limit, i.points_price,
            i.image_url, i.link_url,
        )
        for i in admin.items(sale.id)
    ]  # fmt: skip
    chat_pks = (
        _chat_pks(session, runtime, body.platform, body.chat_ids)
        if body.chat_ids is not None
        else tuple(admin.chat_pks(sale.id))
    )
    return SaleInput(
        name=(body.name or sale.name).strip(),
        chat_pks=chat_pks,
        starts_at=_maybe_aware(body.starts_at, runtime) or sale.starts_at,
        ends_at=_maybe_aware(body.ends_at, runtime) or sale.ends_at,
        items=_items(body.items) if body.items is not None else tuple(current_items),
        payment_window_minutes=body.payment_window_minutes or sale.payment_window_minutes,
        min_level=body.min_level if "min_level" in given else sale.min_level,
        joined_before=(
            _maybe_aware(body.joined_before, runtime)
            if "joined_before" in given
            else sale.joined_before
        ),
        exclude_blocked=(
            sale.exclude_blocked if body.exclude_blocked is None else body.exclude_blocked
        ),
        waitlist=sale.waitlist if body.waitlist is None else body.waitlist,
        early_access=sale.early_access if body.early_access is None else body.early_access,
    )


@router.post("/flash-sales/{sale_id}/cancel")
def cancel_sale(
    sale_id: int, body: CancelIn, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Stop the sale: pending orders cancelled (points refunded), announcements withdrawn."""
    admin = admin_for(session, runtime)
    sale_or_404(admin, sale_id)
    ctx = flash_sale_orders.order_context(session, runtime)
    cancelled: int = _run(lambda: admin.cancel(ctx, sale_id, operator=body.by or "admin"))
    return {
        **sale_out(session, runtime, admin, admin.sale(sale_id)),
        "orders_cancelled": cancelled,
    }
