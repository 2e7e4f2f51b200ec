"""PostgreSQL: join an item's waitlist and read the member's place in one statement.

Runs from `FlashSaleService._join_waitlist` (app/services/flash_sales.py) inside the inbox
worker's transaction, on PostgreSQL only, for a claim that found the item sold out. Changes
`flash_sale_waitlist`: inserts the member's row unless one exists (ON CONFLICT DO NOTHING),
as the separate insert did. The place is counted on the statement's snapshot, which does not
show the row the same statement inserts, so it is "waiting rows before mine, plus me if I am
waiting" — the same number the separate SELECT counted (`id <= mine`). Joins are serialised
by the claims lock, so no other claim adds rows in between. When a concurrent transaction
inserted the row after this statement's snapshot, no row comes back and the caller reads the
place with the separate SELECT.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, func, select, union_all
from sqlalchemy.dialects.postgresql import insert

from app.db.models import FlashSaleWaitlist

JOIN_FIELDS = ("sale_id", "item_id", "member_id", "chat_id", "status", "created_at")


def join_statement(_dialect: str) -> Any:
    """SELECT status, place for the member's row. Parameters: the row's fields
    (`JOIN_FIELDS`) prefixed `w_` (no parameter may be named like a column)."""
    waitlist = cast(Table, FlashSaleWaitlist.__table__)
    item_id = bindparam("w_item_id", type_=Integer())
    joined = (
        insert(waitlist)
        .values(
            {name: bindparam(f"w_{name}", type_=waitlist.c[name].type) for name in JOIN_FIELDS}
        )
        .on_conflict_do_nothing(index_elements=["item_id", "member_id"])
        .returning(waitlist.c.id, waitlist.c.status)
        .cte("joined")
    )
    earlier = select(waitlist.c.id, waitlist.c.status).where(
        waitlist.c.item_id == item_id,
        waitlist.c.member_id == bindparam("w_member_id", type_=Integer()),
    )
    mine = union_all(select(joined.c.id, joined.c.status), earlier).cte("mine")
    others = waitlist.alias("others")
    ahead = (
        select(func.count())
        .where(
            others.c.item_id == item_id,
            others.c.status == "waiting",
            others.c.id < mine.c.id,
        )
        .scalar_subquery()
    )
    waiting = (mine.c.status == "waiting").cast(Integer())
    return select(mine.c.status, (ahead + waiting).label("place"))
