"""Order lifecycle after the claim: paid, released (unpaid on time), cancelled; the waitlist.

Runs inside the caller's transaction: the release job (app/jobs/flash_sale_release.py) and the
admin API. Every transition is a conditional UPDATE on the order's status, so a payment
confirmation racing the release job, or two job runs, change an order once:
- `mark_paid`: pending → paid;
- `close_order`: pending → released (deadline passed), or pending/paid → cancelled (admin).
Closing gives the unit back: it drops the member's holding, refunds points spent through the
ledger, and offers the unit to the first member still waiting for the item (a new pending
order with its own deadline, `source = "waitlist"`) — or, with nobody eligible waiting or the
sale cancelled, returns it to stock. The member hears about it through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db.models import (
    FlashSale,
    FlashSaleHolding,
    FlashSaleItem,
    FlashSaleOrder,
    FlashSaleWaitlist,
    Member,
)
from app.services.flash_sale_claims import Take, take_unit
from app.services.flash_sale_config import FlashSaleConfig
from app.services.flash_sale_notices import notify
from app.services.flash_sale_replies import claimed_text
from app.services.flash_sale_views import (
    ITEM_COLUMNS,
    ORDER_COLUMNS,
    SALE_COLUMNS,
    ItemView,
    OrderView,
    SaleView,
    from_row,
)
from app.services.points import PointsService

CloseStatus = Literal["released", "cancelled"]
OFFER_SCAN = 50  # waitlist entries tried per released unit


class OrderStateError(Exception):
    """The order is not in a state that allows this (e.g. paying a released order)."""


@dataclass(frozen=True, slots=True)
class Closed:
    """What closing an order did with its unit."""

    order: OrderView
    offered_to: int | None  # members.id of the waitlist member now holding it, if any
    refunded_points: int


@dataclass(frozen=True, slots=True)
class OrderContext:
    """What order transitions need besides the session."""

    points: PointsService
    config: FlashSaleConfig
    tz: tzinfo
    now: datetime


def load_order(session: Session, order_id: int) -> OrderView | None:
    row = session.execute(
        select(*ORDER_COLUMNS).where(FlashSaleOrder.id == order_id)
    ).one_or_none()
    return None if row is None else from_row(OrderView, row, "o_")


def load_sale_item(session: Session, item_pk: int) -> tuple[SaleView, ItemView]:
    row = session.execute(
        select(*SALE_COLUMNS, *ITEM_COLUMNS)
        .select_from(FlashSaleItem)
        .join(FlashSale, FlashSale.id == FlashSaleItem.sale_id)
        .where(FlashSaleItem.id == item_pk)
    ).one()
    return from_row(SaleView, row, "s_"), from_row(ItemView, row, "i_")


def mark_paid(
    session: Session,
    order_id: int,
    *,
    now: datetime,
    payment_ref: str | None = None,
    operator: str | None = None,
) -> OrderView:
    """pending → paid; OrderStateError when the order is not pending any more."""
    changed = session.execute(
        update(FlashSaleOrder)
        .where(FlashSaleOrder.id == order_id, FlashSaleOrder.status == "pending")
        .values(status="paid", paid_at=now, payment_ref=payment_ref, operator=operator)
        .returning(FlashSaleOrder.id)
        .execution_options(synchronize_session=False)
    ).first()
    order = load_order(session, order_id)
    if changed is None or order is None:
        state = order.status if order else "missing"
        raise OrderStateError(f"order {order_id} is {state}, not pending")
    return order


def close_order(
    session: Session,
    ctx: OrderContext,
    order_id: int,
    status: CloseStatus,
    *,
    operator: str | None = None,
    note: str | None = None,
) -> Closed | None:
    """Release (unpaid, pending only) or cancel (pending or paid) an order once; None when
    the order is not in such a state any more (paid meanwhile, closed by someone else)."""
    allowed = ("pending",) if status == "released" else ("pending", "paid")
    row = session.execute(
        update(FlashSaleOrder)
        .where(FlashSaleOrder.id == order_id, FlashSaleOrder.status.in_(allowed))
        .values(status=status, closed_at=ctx.now, operator=operator, note=note)
        .returning(*ORDER_COLUMNS)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        return None
    order = from_row(OrderView, row, "o_")
    refunded = _refund(ctx, order)
    item, offered_to = _pass_on(session, ctx, order)
    _tell_closed(session, ctx, order, item, status, refunded)
    return Closed(order, offered_to, refunded)


def _pass_on(session: Session, ctx: OrderContext, order: OrderView) -> tuple[ItemView, int | None]:
    """The closed order's unit: off the member's holding, to the waitlist or back to stock."""
    session.execute(
        update(FlashSaleHolding)
        .where(
            FlashSaleHolding.item_id == order.item_id,
            FlashSaleHolding.member_id == order.member_id,
            FlashSaleHolding.held > 0,
        )
        .values(held=FlashSaleHolding.held - 1)
        .execution_options(synchronize_session=False)
    )
    sale, item = load_sale_item(session, order.item_id)
    offered_to = None if sale.status == "cancelled" else offer_next(session, ctx, sale, item)
    if offered_to is None:
        session.execute(
            update(FlashSaleItem)
            .where(FlashSaleItem.id == item.id)
            .values(stock=FlashSaleItem.stock + 1)
            .execution_options(synchronize_session=False)
        )
    return item, offered_to


def _refund(ctx: OrderContext, order: OrderView) -> int:
    if not order.points_spent:
        return 0
    result = ctx.points.apply(
        order.member_id,
        order.points_spent,
        "refund",
        f"flash_sale:refund:{order.id}",
        chat_pk=order.chat_id,
        ref=f"flash_sale:order:{order.id}",
        at=ctx.now,
    )
    return result.delta if result.ok else 0


def offer_next(session: Session, ctx: OrderContext, sale: SaleView, item: ItemView) -> int | None:
    """Hand a freed unit to the first waiting member who can take it; their members.id."""
    waiting = session.execute(
        select(FlashSaleWaitlist.id, FlashSaleWaitlist.member_id, FlashSaleWaitlist.chat_id)
        .where(FlashSaleWaitlist.item_id == item.id, FlashSaleWaitlist.status == "waiting")
        .order_by(FlashSaleWaitlist.id)
        .limit(OFFER_SCAN)
        .with_for_update(skip_locked=True)
    ).all()
    for entry in waiting:
        take = Take(
            sale, item, entry.member_id, entry.chat_id, f"waitlist:{entry.id}", ctx.now,
            source="waitlist", from_stock=False,
        )  # fmt: skip
        outcome = take_unit(session, ctx.points, take)
        taken = outcome.status == "taken" and outcome.order is not None
        session.execute(
            update(FlashSaleWaitlist)
            .where(FlashSaleWaitlist.id == entry.id)
            .values(
                status="offered" if taken else "skipped",
                offered_at=ctx.now,
                order_id=outcome.order.id if taken and outcome.order else None,
            )
            .execution_options(synchronize_session=False)
        )
        if taken and outcome.order is not None:
            _tell_offered(session, ctx, sale, item, outcome.order)
            return int(entry.member_id)
    return None


def member_name(session: Session, member_pk: int, fallback: str = "你") -> str:
    """The member's name as messages show it; `fallback` when there is none."""
    name = session.scalar(select(Member.name).where(Member.id == member_pk))
    return (name or "").strip() or fallback


def _tell_offered(
    session: Session, ctx: OrderContext, sale: SaleView, item: ItemView, order: OrderView
) -> None:
    name = member_name(session, order.member_id)
    text = claimed_text(ctx.config, sale, item, order, name, ctx.tz, offered=True)
    notify(
        session,
        member_pk=order.member_id,
        chat_pk=order.chat_id,
        text=text,
        key=f"flash:order:{order.id}:offered",
        now=ctx.now,
    )


def _tell_closed(
    session: Session,
    ctx: OrderContext,
    order: OrderView,
    item: ItemView,
    status: CloseStatus,
    refunded: int,
) -> None:
    texts = ctx.config.texts
    values: dict[str, object] = {
        "name": member_name(session, order.member_id),
        "number": item.number,
        "item": item.name,
    }
    if status == "released":
        minutes = ((order.pay_deadline or ctx.now) - order.claimed_at).total_seconds() / 60
        text = texts.render("released", minutes=round(minutes), **values)
    else:
        part = texts.render("points_refunded_part", points=refunded) if refunded else ""
        text = texts.render("order_cancelled", points_part=part, **values)
    notify(
        session,
        member_pk=order.member_id,
        chat_pk=order.chat_id,
        text=text,
        key=f"flash:order:{order.id}:{status}",
        now=ctx.now,
    )
