"""PostgreSQL: a claim's three writes (order, holding, stock) in one statement.

Runs from `take_unit` (app/services/flash_sale_claims.py) inside the inbox worker's
transaction, on PostgreSQL only, for a unit taken from stock of an item without a points price
(those debit the ledger between the writes and keep the step-by-step path). Changes
`flash_sale_orders`, `flash_sale_holdings` and `flash_sale_items.stock` exactly as the three
separate statements would, in the same order: each data-modifying CTE runs only when the one
before it wrote a row (the holding insert selects from the order's RETURNING, the stock update
requires a holding row), so a duplicate key writes nothing, a full limit writes only the order
and sold out only the order and the holding — the caller undoes those two as for the
step-by-step path. The stock update keeps `stock > 0`, re-checked on the newest row version
after a lock wait (READ COMMITTED), so it never oversells. One round trip instead of three:
on a 2-core host each statement costs more in client and server overhead than in work.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, exists, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert

from app.db.models import FlashSaleHolding, FlashSaleItem, FlashSaleOrder

ORDER_FIELDS = (
    "sale_id",
    "item_id",
    "member_id",
    "chat_id",
    "claim_key",
    "source",
    "status",
    "price_cents",
    "points_spent",
    "claimed_at",
    "pay_deadline",
    "paid_at",
)


def take_statement(_dialect: str) -> Any:
    """SELECT order_id, held, left: NULL from the first step that wrote nothing onwards.
    Parameters: the order row's fields (`ORDER_FIELDS`) prefixed `o_`, and `limit` (per
    member). The prefix matters: a parameter named like a column of the updated table would
    become one more SET of the UPDATE."""
    orders = cast(Table, FlashSaleOrder.__table__)
    holdings = cast(Table, FlashSaleHolding.__table__)
    items = cast(Table, FlashSaleItem.__table__)
    item_id = bindparam("o_item_id", type_=Integer())
    member_id = bindparam("o_member_id", type_=Integer())
    order = (
        insert(orders)
        .values({name: bindparam(f"o_{name}", type_=orders.c[name].type) for name in ORDER_FIELDS})
        .on_conflict_do_nothing(index_elements=["claim_key"])
        .returning(orders.c.id)
        .cte("taken_order")
    )
    counted = insert(holdings).from_select(
        ["item_id", "member_id", "held"],
        select(item_id, member_id, literal_column("1", Integer())).select_from(order),
    )
    holding = (
        counted.on_conflict_do_update(
            index_elements=["item_id", "member_id"],
            set_={"held": holdings.c.held + 1},
            where=holdings.c.held < bindparam("limit", type_=Integer()),
        )
        .returning(holdings.c.held)
        .cte("counted_holding")
    )
    stock = (
        update(items)
        .where(items.c.id == item_id, items.c.stock > 0, exists(select(holding.c.held)))
        .values(stock=items.c.stock - 1)
        .returning(items.c.stock)
        .cte("taken_stock")
    )
    return select(
        select(order.c.id).scalar_subquery().label("order_id"),
        select(holding.c.held).scalar_subquery().label("held"),
        select(stock.c.stock).scalar_subquery().label("left"),
    )
