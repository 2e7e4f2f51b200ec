"""Flash-sale reports for admins: the order list (and CSV rows), the funnel, the winners, and
the block list (members barred from sales).

Reads, except `block`/`unblock`, which change `flash_sale_blocks` in the admin API's
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from app.db.models import (
    Chat,
    ChatMember,
    FlashSaleBlock,
    FlashSaleChat,
    FlashSaleItem,
    FlashSaleOrder,
    FlashSaleWaitlist,
    Member,
)
from app.db.upsert import insert_ignore
from app.services.flash_sale_views import ORDER_COLUMNS, OrderView, SaleView, from_row


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An order with who claimed it, where, and which item."""

    order: OrderView
    platform: str
    user_id: str
    member_name: str | None
    chat_id: str | None
    item_number: int
    item_name: str


@dataclass(frozen=True, slots=True)
class Funnel:
    """Members reached (in the sale's groups at its start) → claimed → paid."""

    reached: int
    claimed: int
    paid: int
    waitlisted: int
    units_claimed: int
    units_paid: int


@dataclass(frozen=True, slots=True)
class BlockRow:
    platform: str
    user_id: str
    name: str | None
    reason: str | None
    created_by: str | None
    created_at: datetime


def order_rows(
    session: Session,
    sale_id: int,
    *,
    statuses: tuple[str, ...] = (),
    after_id: int = 0,
    limit: int = 100,
) -> list[OrderRow]:
    """Orders of a sale, oldest first after `after_id` (optionally of some statuses)."""
    stmt = (
        select(
            *ORDER_COLUMNS,
            Member.platform,
            Member.external_id.label("user_id"),
            Member.name.label("member_name"),
            Chat.external_id.label("chat_external_id"),
            FlashSaleItem.number,
            FlashSaleItem.name.label("item_name"),
        )
        .select_from(FlashSaleOrder)
        .join(Member, Member.id == FlashSaleOrder.member_id)
        .join(FlashSaleItem, FlashSaleItem.id == FlashSaleOrder.item_id)
        .outerjoin(Chat, Chat.id == FlashSaleOrder.chat_id)
        .where(FlashSaleOrder.sale_id == sale_id, FlashSaleOrder.id > after_id)
        .order_by(FlashSaleOrder.id)
        .limit(limit)
    )
    if statuses:
        stmt = stmt.where(FlashSaleOrder.status.in_(statuses))
    return [
        OrderRow(
            from_row(OrderView, row, "o_"),
            row.platform,
            row.user_id,
            row.member_name,
            row.chat_external_id,
            row.number,
            row.item_name,
        )
        for row in session.execute(stmt)
    ]


def funnel(session: Session, sale: SaleView) -> Funnel:
    in_groups = select(FlashSaleChat.chat_id).where(FlashSaleChat.sale_id == sale.id)
    reached = session.scalar(
        select(func.count(func.distinct(ChatMember.member_id))).where(
            ChatMember.chat_id.in_(in_groups),
            ChatMember.first_seen_at < sale.ends_at,
            or_(ChatMember.left_at.is_(None), ChatMember.left_at >= sale.starts_at),
        )
    )
    units = dict(
        session.execute(
            select(FlashSaleOrder.status, func.count())
            .where(FlashSaleOrder.sale_id == sale.id)
            .group_by(FlashSaleOrder.status)
        ).all()
    )
    waitlisted = session.scalar(
        select(func.count(func.distinct(FlashSaleWaitlist.member_id))).where(
            FlashSaleWaitlist.sale_id == sale.id
        )
    )
    return Funnel(
        reached=int(reached or 0),
        claimed=_members_with_orders(session, sale.id, ()),
        paid=_members_with_orders(session, sale.id, ("paid",)),
        waitlisted=int(waitlisted or 0),
        units_claimed=int(units.get("pending", 0)) + int(units.get("paid", 0)),
        units_paid=int(units.get("paid", 0)),
    )


def _members_with_orders(session: Session, sale_id: int, statuses: tuple[str, ...]) -> int:
    """Distinct members with an order (of one of `statuses`; any status when empty)."""
    stmt = select(func.count(func.distinct(FlashSaleOrder.member_id))).where(
        FlashSaleOrder.sale_id == sale_id
    )
    if statuses:
        stmt = stmt.where(FlashSaleOrder.status.in_(statuses))
    return int(session.scalar(stmt) or 0)


def block(
    session: Session, member_pk: int, *, reason: str | None, by: str | None, now: datetime
) -> bool:
    """Bar a member from flash sales; False when they were already barred."""
    row = {"member_id": member_pk, "reason": reason, "created_by": by, "created_at": now}
    added = insert_ignore(session, FlashSaleBlock, [row], ["member_id"], FlashSaleBlock.member_id)
    return bool(added)


def unblock(session: Session, member_pk: int) -> bool:
    removed = session.execute(
        delete(FlashSaleBlock)
        .where(FlashSaleBlock.member_id == member_pk)
        .returning(FlashSaleBlock.member_id)
    ).first()
    return removed is not None


def blocked_members(session: Session) -> list[BlockRow]:
    rows = session.execute(
        select(
            Member.platform,
            Member.external_id,
            Member.name,
            FlashSaleBlock.reason,
            FlashSaleBlock.created_by,
            FlashSaleBlock.created_at,
        )
        .join(Member, Member.id == FlashSaleBlock.member_id)
        .order_by(FlashSaleBlock.created_at, Member.id)
    ).all()
    return [BlockRow(*row) for row in rows]
