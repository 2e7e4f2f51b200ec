"""Many claims' takes at once: the units a worker batch claims, written together.

Runs from `FlashSaleService.flush` (app/services/flash_sales.py) inside the inbox worker's
transaction, after the claims lock, for claims of items without a points price that passed
every check. In the order a single claim writes (research §2: claim first, hot row last):
1. insert every claim's order under its unique `claim_key` (one statement) — a key another
   transaction is writing makes this wait, and that claim becomes a duplicate;
2. lock the members' holdings (creating missing ones empty) and then the items' rows, each in
   key order, and read them (one statement each);
3. decide each claim in message order against those locked numbers: over the member's limit,
   sold out, or taken;
4. delete the orders of refused claims, write the holdings and the stock (one statement each).
Because the numbers are read under the row locks (PostgreSQL waits for another transaction's
claims and sees its result; SQLite has one writer), no interleaving can oversell or pass a
limit; CHECK (stock >= 0) stays the last defence. Changes `flash_sale_orders`,
`flash_sale_holdings`, `flash_sale_items.stock`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, update
from sqlalchemy.orm import Session

from app.db.models import FlashSaleItem
from app.db.upsert import cached_statement, insert_rows, lock_rows, one_of, overwrite_rows
from app.services.flash_sale_claims import (
    HOLDINGS,
    ORDERS,
    Take,
    TakeOutcome,
    insert_orders,
    order_by_key,
    order_row,
    order_view,
)

ITEMS = cast(Table, FlashSaleItem.__table__)
HOLDING_KEY = ("item_id", "member_id")


def take_many(session: Session, takes: Sequence[Take]) -> list[TakeOutcome]:
    """One unit for each take, in order, or its refusal (duplicate, over_limit, sold_out)."""
    if not takes:
        return []
    rows = [order_row(take) for take in takes]
    ids = _insert_orders(session, rows)
    held = _lock_holdings(session, {(take.item.id, take.member_pk) for take in takes})
    stock = _lock_stock(session, {take.item.id for take in takes})
    outcomes: list[TakeOutcome] = []
    refused: list[int] = []
    for take, row in zip(takes, rows, strict=True):
        order_id = ids.pop(take.key, None)  # a key given twice gets its order once
        holding = (take.item.id, take.member_pk)
        if order_id is None:  # a retry of a claim another transaction has just made
            outcomes.append(TakeOutcome("duplicate", order=order_by_key(session, take.key)))
            continue
        if held[holding] >= take.item.per_member_limit:
            outcomes.append(TakeOutcome("over_limit", held=held[holding]))
        elif stock[take.item.id] <= 0:
            outcomes.append(TakeOutcome("sold_out", held=held[holding]))
        else:
            held[holding] += 1
            stock[take.item.id] -= 1
            order = order_view(row, order_id)
            outcomes.append(TakeOutcome("taken", order, held[holding], stock[take.item.id]))
            continue
        refused.append(order_id)
    if refused:
        session.execute(cached_statement(session, "flash-orders-undo", _undo), {"ids": refused})
    _write(session, held, stock, takes, outcomes)
    return outcomes


def _lock_holdings(session: Session, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    empty = [{"item_id": item, "member_id": member, "held": 0} for item, member in sorted(pairs)]
    rows = lock_rows(session, HOLDINGS, empty, HOLDING_KEY, ("item_id", "member_id", "held"))
    return {(int(row.item_id), int(row.member_id)): int(row.held) for row in rows}


def _lock_stock(session: Session, items: set[int]) -> dict[int, int]:
    stmt = cached_statement(session, "flash-stock-lock", _lock_stock_statement)
    rows = session.execute(stmt, {"items": sorted(items)})
    return {int(row.id): int(row.stock) for row in rows}


def _lock_stock_statement(dialect: str) -> Any:
    return (
        select(ITEMS.c.id, ITEMS.c.stock)
        .where(one_of(dialect, ITEMS.c.id, "items"))
        .order_by(ITEMS.c.id)
        .with_for_update()
    )


def _insert_orders(session: Session, orders: list[dict[str, Any]]) -> dict[str, int]:
    """Insert the orders first (as a single claim does): a claim key another transaction is
    writing makes this wait for it, and is then left out of the result."""
    rows = insert_rows(session, ORDERS, orders, "flash-orders", insert_orders)
    return {row.claim_key: int(row.id) for row in rows}


def _undo(dialect: str) -> Any:
    return delete(ORDERS).where(one_of(dialect, ORDERS.c.id, "ids"))


def _write(
    session: Session,
    held: dict[tuple[int, int], int],
    stock: dict[int, int],
    takes: Sequence[Take],
    outcomes: list[TakeOutcome],
) -> None:
    """Store the new holdings and stock of what was taken."""
    taken = [t for t, o in zip(takes, outcomes, strict=True) if o.status == "taken"]
    if not taken:
        return
    holdings = sorted({(take.item.id, take.member_pk) for take in taken})
    rows = [
        {"item_id": item, "member_id": member, "held": held[item, member]}
        for item, member in holdings
    ]
    overwrite_rows(session, HOLDINGS, rows, HOLDING_KEY)
    items = sorted({take.item.id for take in taken})
    stmt = cached_statement(session, "flash-stock-write", _write_stock_statement)
    session.execute(stmt, [{"item": item, "left": stock[item]} for item in items])


def _write_stock_statement(_dialect: str) -> Any:
    return update(ITEMS).where(ITEMS.c.id == bindparam("item")).values(stock=bindparam("left"))
