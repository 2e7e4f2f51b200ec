"""The atomic heart of a flash sale: take one unit of an item for a member, or change nothing.

Runs inside the caller's transaction (the inbox worker's for `抢3`, the release job's for a
waitlist offer), in this order (research §2: claim first, hot row last):
1. insert the order under its unique `claim_key` — a retried message finds the key taken;
2. count the unit against the member's limit with one upsert that only increments while
   `held < per_member_limit` (concurrent double clicks of one member queue on their own row);
3. debit points through the ledger for points-priced items (never overdraws);
4. take the unit with `UPDATE … SET stock = stock - 1 WHERE stock > 0` — the only statement
   that touches the hot item row, last, so its row lock is held as briefly as possible.
A refusal leaves no trace: for points-priced items everything runs in a SAVEPOINT that is
rolled back (ledger entries are never deleted); otherwise the two rows written before the
refusal are undone directly, which spares the savepoint's two round trips on every claim.
A worker batch's claims of items without points take their units together instead
(app/services/flash_sale_take_many.py); this path serves points-priced items and waitlist
offers.
PostgreSQL (READ COMMITTED) re-checks `stock > 0` on the newest row version after waiting for
the lock; SQLite has one writer (BEGIN IMMEDIATE). CHECK (stock >= 0) is the last defence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from app.db.models import FlashSaleHolding, FlashSaleItem, FlashSaleOrder
from app.db.upsert import cached_statement, dialect_insert
from app.services.flash_sale_views import ORDER_COLUMNS, ItemView, OrderView, SaleView, from_row
from app.services.points import PointsService

TakeStatus = Literal["taken", "duplicate", "over_limit", "insufficient_points", "sold_out"]
LEDGER_REASON = "flash_sale"


@dataclass(frozen=True, slots=True)
class Take:
    """One request for a unit. `from_stock=False` hands over a released unit (waitlist)."""

    sale: SaleView
    item: ItemView
    member_pk: int
    chat_pk: int | None
    key: str
    now: datetime
    source: str = "claim"
    from_stock: bool = True


@dataclass(frozen=True, slots=True)
class TakeOutcome:
    status: TakeStatus
    order: OrderView | None = None
    held: int = 0
    left: int | None = None  # stock left after this take (None when not from stock)
    balance: int = 0  # points balance, for points-priced items


ORDERS = cast(Table, FlashSaleOrder.__table__)
HOLDINGS = cast(Table, FlashSaleHolding.__table__)


# Built once per dialect on the tables (plain Core): these run on every claim.
def insert_orders(_dialect: str, insert: Any) -> Any:
    """Orders, each once per claim key (a key taken before is skipped, not returned)."""
    return insert.on_conflict_do_nothing(index_elements=["claim_key"]).returning(
        ORDERS.c.id, ORDERS.c.claim_key
    )


def _order_insert(dialect: str) -> Any:
    return insert_orders(dialect, dialect_insert(dialect)(ORDERS))


def _holding_upsert(dialect: str) -> Any:
    table = FlashSaleHolding.__table__
    insert = dialect_insert(dialect)(table).values(
        item_id=bindparam("item_id"), member_id=bindparam("member_id"), held=1
    )
    return insert.on_conflict_do_update(
        index_elements=["item_id", "member_id"],
        set_={"held": table.c.held + 1},
        where=table.c.held < bindparam("limit"),
    ).returning(table.c.held)


def _stock_decrement(_dialect: str) -> Any:
    table = cast(Table, FlashSaleItem.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("item_id"), table.c.stock > 0)
        .values(stock=table.c.stock - 1)
        .returning(table.c.stock)
    )


def take_unit(session: Session, points: PointsService, take: Take) -> TakeOutcome:
    """Take one unit for the member, or leave everything as it was."""
    if take.item.points_price:
        savepoint = session.begin_nested()
        attempt = _take(session, points, take)
        (savepoint.commit if attempt.outcome.status == "taken" else savepoint.rollback)()
    else:
        attempt = _take(session, points, take)
        _undo(session, take, attempt)
    outcome = attempt.outcome
    if outcome.status == "duplicate":
        return TakeOutcome("duplicate", order=order_by_key(session, take.key))
    if outcome.status == "over_limit":
        return TakeOutcome("over_limit", held=held_units(session, take.item.id, take.member_pk))
    return outcome


@dataclass(frozen=True, slots=True)
class _Attempt:
    outcome: TakeOutcome
    order_id: int | None = None  # the order row written (to undo on a refusal)
    counted: bool = False  # the holding was incremented (to undo on a refusal)


def _take(session: Session, points: PointsService, take: Take) -> _Attempt:
    item = take.item
    row = order_row(take)
    inserted = session.scalar(cached_statement(session, "flash-order", _order_insert), row)
    if inserted is None:
        return _Attempt(TakeOutcome("duplicate"))
    order_id = int(inserted)
    params = {"item_id": item.id, "member_id": take.member_pk, "limit": item.per_member_limit}
    held = session.scalar(cached_statement(session, "flash-holding", _holding_upsert), params)
    if held is None:
        return _Attempt(TakeOutcome("over_limit"), order_id)
    balance = 0
    if item.points_price:
        debit = points.apply(
            take.member_pk,
            -item.points_price,
            LEDGER_REASON,
            f"flash_sale:order:{order_id}",
            chat_pk=take.chat_pk,
            ref=f"flash_sale:{take.sale.id}:{item.number}",
            at=take.now,
        )
        if not debit.applied:
            outcome = TakeOutcome("insufficient_points", balance=debit.balance)
            return _Attempt(outcome, order_id, counted=True)
        balance = debit.balance
    left = None
    if take.from_stock:
        stmt = cached_statement(session, "flash-stock", _stock_decrement)
        left = session.scalar(stmt, {"item_id": item.id})
        if left is None:
            return _Attempt(TakeOutcome("sold_out"), order_id, counted=True)
    order = order_view(row, order_id)
    return _Attempt(TakeOutcome("taken", order, int(held), left, balance))


def _undo(session: Session, take: Take, attempt: _Attempt) -> None:
    """Remove what a refused attempt wrote (only for items without points)."""
    if attempt.order_id is not None and attempt.outcome.status != "taken":
        session.execute(delete(ORDERS).where(ORDERS.c.id == attempt.order_id))
    if attempt.counted and attempt.outcome.status != "taken":
        session.execute(
            update(HOLDINGS)
            .where(HOLDINGS.c.item_id == take.item.id, HOLDINGS.c.member_id == take.member_pk)
            .values(held=HOLDINGS.c.held - 1)
        )


def order_row(take: Take) -> dict[str, Any]:
    item, now = take.item, take.now
    pending = item.needs_payment
    deadline = now + timedelta(minutes=take.sale.payment_window_minutes) if pending else None
    return {
        "sale_id": take.sale.id,
        "item_id": item.id,
        "member_id": take.member_pk,
        "chat_id": take.chat_pk,
        "claim_key": take.key,
        "source": take.source,
        "status": "pending" if pending else "paid",
        "price_cents": item.price_cents,
        "points_spent": item.points_price or 0,
        "claimed_at": now,
        "pay_deadline": deadline,
        "paid_at": None if pending else now,
    }


def order_view(row: dict[str, Any], order_id: int) -> OrderView:
    """The order `order_row` built, once stored under `order_id`."""
    return OrderView(id=order_id, closed_at=None, **row)


def order_by_key(session: Session, key: str) -> OrderView | None:
    row = session.execute(
        select(*ORDER_COLUMNS).where(FlashSaleOrder.claim_key == key)
    ).one_or_none()
    return None if row is None else from_row(OrderView, row, "o_")


def held_units(session: Session, item_pk: int, member_pk: int) -> int:
    held = session.scalar(
        select(FlashSaleHolding.held).where(
            FlashSaleHolding.item_id == item_pk, FlashSaleHolding.member_id == member_pk
        )
    )
    return int(held or 0)
