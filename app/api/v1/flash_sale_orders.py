"""Admin: a flash sale's orders (JSON pages and CSV), mark paid / cancel, funnel, winners, and
the block list of members barred from flash sales.

Every request is one transaction. Marking an order paid is an operator's payment confirmation
(the shop's own confirmations arrive signed at POST /callbacks/payment and go through the same
`mark_paid`); cancelling one gives its unit to the waitlist or back to stock and refunds points.
Included by app/api/v1/flash_sales.py.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.api.deps import RuntimeDep, SessionDep
from app.api.v1.schemas import iso
from app.runtime import Runtime
from app.services.flash_sale_admin import FlashSaleAdmin, SaleNotFound
from app.services.flash_sale_config import load_flash_sale_config
from app.services.flash_sale_orders import (
    OrderContext,
    OrderStateError,
    close_order,
    load_order,
    mark_paid,
)
from app.services.flash_sale_reports import (
    OrderRow,
    block,
    blocked_members,
    funnel,
    order_rows,
    unblock,
)
from app.services.flash_sale_views import OrderView, money
from app.services.points import PointsService
from app.services.points_admin import AdminInputError, find_member
from app.services.points_config import load_points_config

router = APIRouter(tags=["flash-sales"])
PLATFORMS = "^(bridge|wecom_app|wecom_bot|console)$"
MAX_EXPORT_ROWS = 100_000
Status = Literal["pending", "paid", "released", "cancelled"]
CSV_COLUMNS = (
    "order_id",
    "item_number",
    "item_name",
    "platform",
    "user_id",
    "member_name",
    "chat_id",
    "status",
    "source",
    "price",
    "points_spent",
    "claimed_at",
    "pay_deadline",
    "paid_at",
    "closed_at",
)


class PaidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_ref: Annotated[str | None, Field(max_length=128)] = None
    by: Annotated[str | None, Field(max_length=64)] = None


class CancelOrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Annotated[str | None, Field(max_length=255)] = None
    by: Annotated[str | None, Field(max_length=64)] = None


class BlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Annotated[str, Field(pattern=PLATFORMS)] = "bridge"
    user_id: Annotated[str, Field(min_length=1, max_length=128)]
    reason: Annotated[str | None, Field(max_length=255)] = None
    by: Annotated[str | None, Field(max_length=64)] = None


def order_context(session: Session, runtime: Runtime) -> OrderContext:
    clock, tz = runtime.deps.clock, runtime.settings.tz
    points = PointsService(session, load_points_config(), clock, tz)
    return OrderContext(points, load_flash_sale_config(), tz, clock.now())


def _sale_exists(session: Session, runtime: Runtime, sale_id: int) -> FlashSaleAdmin:
    admin = FlashSaleAdmin(
        session, load_flash_sale_config(), tz=runtime.settings.tz, now=runtime.deps.clock.now()
    )
    try:
        admin.sale(sale_id)
    except SaleNotFound:
        raise HTTPException(404, detail=f"no flash sale {sale_id}") from None
    return admin


def _order_of_sale(session: Session, sale_id: int, order_id: int) -> OrderView:
    order = load_order(session, order_id)
    if order is None or order.sale_id != sale_id:
        raise HTTPException(404, detail=f"no order {order_id} in flash sale {sale_id}")
    return order


def _cell(value: object) -> object:
    """Keep spreadsheet apps from running member-chosen names as formulas."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def order_out(row: OrderRow, runtime: Runtime) -> dict[str, Any]:
    tz, order = runtime.settings.tz, row.order
    return {
        "order_id": order.id,
        "item_number": row.item_number,
        "item_name": row.item_name,
        "platform": row.platform,
        "user_id": row.user_id,
        "member_name": row.member_name,
        "chat_id": row.chat_id,
        "status": order.status,
        "source": order.source,
        "price": money(order.price_cents),
        "points_spent": order.points_spent,
        "claimed_at": iso(order.claimed_at, tz),
        "pay_deadline": iso(order.pay_deadline, tz),
        "paid_at": iso(order.paid_at, tz),
        "closed_at": iso(order.closed_at, tz),
    }


# -- block list (declared before /flash-sales/{sale_id} routes) ----------------------------
@router.get("/flash-sales/blocklist")
def list_blocked(session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    tz = runtime.settings.tz
    return {
        "items": [
            {
                "platform": b.platform,
                "user_id": b.user_id,
                "name": b.name,
                "reason": b.reason,
                "created_by": b.created_by,
                "created_at": iso(b.created_at, tz),
            }
            for b in blocked_members(session)
        ]
    }


@router.post("/flash-sales/blocklist")
def block_member(body: BlockIn, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Bar a member from flash sales (e.g. resellers). Sales exclude these members and those
    on the community blacklist (moderation) unless a sale sets `exclude_blocked` false."""
    member = _member(session, body.platform, body.user_id)
    now = runtime.deps.clock.now()
    added = block(session, member, reason=body.reason, by=body.by, now=now)
    return {"user_id": body.user_id, "blocked": True, "added": added}


@router.delete("/flash-sales/blocklist/{platform}/{user_id}")
def unblock_member(platform: str, user_id: str, session: SessionDep) -> dict[str, Any]:
    member = _member(session, platform, user_id)
    if not unblock(session, member):
        raise HTTPException(404, detail=f"{platform}:{user_id} is not blocked")
    return {"user_id": user_id, "blocked": False}


def _member(session: Session, platform: str, user_id: str) -> int:
    try:
        return find_member(session, platform, user_id).id
    except AdminInputError as error:
        raise HTTPException(error.status, detail=error.reason) from None


# -- orders ---------------------------------------------------------------------------------
@router.get("/flash-sales/{sale_id}/orders")
def list_orders(
    sale_id: int,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Annotated[list[Status] | None, Query()] = None,
    after_id: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Orders oldest first after `after_id`; page on with `next_after_id`."""
    _sale_exists(session, runtime, sale_id)
    rows = order_rows(
        session, sale_id, statuses=tuple(status or ()), after_id=after_id, limit=limit
    )
    items = [order_out(row, runtime) for row in rows]
    return {
        "items": items,
        "next_after_id": items[-1]["order_id"] if len(items) == limit else None,
    }


@router.get("/flash-sales/{sale_id}/orders.csv")
def export_orders(
    sale_id: int,
    session: SessionDep,
    runtime: RuntimeDep,
    status: Annotated[list[Status] | None, Query()] = None,
) -> Response:
    """The orders as CSV (UTF-8 with BOM, so spreadsheet apps show Chinese right)."""
    _sale_exists(session, runtime, sale_id)
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    statuses = tuple(status or ())
    for row in order_rows(session, sale_id, statuses=statuses, limit=MAX_EXPORT_ROWS):
        writer.writerow({k: _cell(v) for k, v in order_out(row, runtime).items()})
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="flash-sale-{sale_id}-orders.csv"'},
    )


@router.post("/flash-sales/{sale_id}/orders/{order_id}/paid")
def order_paid(
    sale_id: int, order_id: int, body: PaidIn, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Confirm payment of a pending order; 409 when it was released or cancelled."""
    _sale_exists(session, runtime, sale_id)
    _order_of_sale(session, sale_id, order_id)
    now = runtime.deps.clock.now()
    try:
        mark_paid(session, order_id, now=now, payment_ref=body.payment_ref, operator=body.by)
    except OrderStateError as error:
        raise HTTPException(409, detail=str(error)) from None
    return _one_order(session, runtime, sale_id, order_id)


@router.post("/flash-sales/{sale_id}/orders/{order_id}/cancel")
def cancel_order(
    sale_id: int, order_id: int, body: CancelOrderIn, session: SessionDep, runtime: RuntimeDep
) -> dict[str, Any]:
    """Cancel a pending or paid order: the unit goes to the waitlist or back to stock."""
    _sale_exists(session, runtime, sale_id)
    order = _order_of_sale(session, sale_id, order_id)
    ctx = order_context(session, runtime)
    closed = close_order(
        session, ctx, order_id, "cancelled", operator=body.by or "admin", note=body.note
    )
    if closed is None:
        raise HTTPException(409, detail=f"order {order_id} is {order.status}, cannot cancel")
    out = _one_order(session, runtime, sale_id, order_id)
    return {
        **out,
        "refunded_points": closed.refunded_points,
        "offered": closed.offered_to is not None,
    }


def _one_order(session: Session, runtime: Runtime, sale_id: int, order_id: int) -> dict[str, Any]:
    rows = order_rows(session, sale_id, after_id=order_id - 1, limit=1)
    return order_out(rows[0], runtime)


# -- funnel and winners ---------------------------------------------------------------------
@router.get("/flash-sales/{sale_id}/funnel")
def sale_funnel(sale_id: int, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Members reached (in the sale's groups) → claimed → paid, with units and rates."""
    admin = _sale_exists(session, runtime, sale_id)
    result = funnel(session, admin.sale(sale_id))

    def rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "reached": result.reached,
        "claimed": result.claimed,
        "paid": result.paid,
        "waitlisted": result.waitlisted,
        "units_claimed": result.units_claimed,
        "units_paid": result.units_paid,
        "claim_rate": rate(result.claimed, result.reached),
        "pay_rate": rate(result.paid, result.claimed),
    }


@router.get("/flash-sales/{sale_id}/winners")
def winners(
    sale_id: int, session: SessionDep, runtime: RuntimeDep, paid_only: bool = False
) -> dict[str, Any]:
    """Who got what: orders pending or paid (only paid with `paid_only`), in claim order."""
    _sale_exists(session, runtime, sale_id)
    statuses = ("paid",) if paid_only else ("pending", "paid")
    rows = order_rows(session, sale_id, statuses=statuses, limit=MAX_EXPORT_ROWS)
    keys = ("order_id", "item_number", "item_name", "platform", "user_id", "member_name", "status")
    return {"items": [{k: order_out(r, runtime)[k] for k in keys} for r in rows]}
