"""Flash-sale (限时秒杀) tables: sales, their groups and items, orders, holdings, waitlist, blocks.

Written by the claim path (`抢<编号>` in a group, inside the inbox worker's transaction), the
release job (unpaid orders released on time) and the admin API. Never oversold rests on the
database, not on the code being careful:
- `flash_sale_items.stock` only moves by `UPDATE … SET stock = stock - 1 WHERE stock > 0`
  (atomic conditional update) and is guarded by CHECK (stock >= 0) and (stock <= total);
- `flash_sale_holdings.held` (units a member holds of an item) moves by an upsert that only
  increments below the item's per-member limit, guarded by CHECK (held >= 0);
- `flash_sale_orders.claim_key` is unique (the message's dedupe key), so a retried message
  never claims twice.
Invariant at every commit: stock + units in pending/paid orders == total, per item.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class FlashSale(Base):
    """A sale: when it runs, the payment window and who may claim.

    `status` is "scheduled" or "cancelled"; early_access/running/ended follow from the times
    (app/services/flash_sale_views.py `SaleView.phase`) and are never stored.
    """

    __tablename__ = "flash_sales"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    payment_window_minutes: Mapped[int]
    # Eligibility: a minimum member level, joined the group before a date, not blocked.
    min_level: Mapped[int | None]
    joined_before: Mapped[datetime | None]
    exclude_blocked: Mapped[bool] = mapped_column(default=True)
    waitlist: Mapped[bool] = mapped_column(default=True)
    # Levels with flash-sale early access (config/points.toml) may claim before `starts_at`.
    early_access: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    results_sent_at: Mapped[datetime | None]


class FlashSaleChat(Base):
    """A group a sale runs in (claims there count; announcements go there)."""

    __tablename__ = "flash_sale_chats"

    sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id"), primary_key=True, index=True)


class FlashSaleItem(Base):
    """One item of a sale: `stock` is what is left, `total` what was put on sale."""

    __tablename__ = "flash_sale_items"
    __table_args__ = (
        UniqueConstraint("sale_id", "number"),
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("stock <= total", name="stock_within_total"),
        CheckConstraint("per_member_limit >= 1", name="limit_positive"),
        CheckConstraint("price_cents >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id"), index=True)
    number: Mapped[int]
    name: Mapped[str] = mapped_column(String(128))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    points_price: Mapped[int | None]
    total: Mapped[int]
    stock: Mapped[int]
    per_member_limit: Mapped[int]
    image_url: Mapped[str | None] = mapped_column(String(1024))
    link_url: Mapped[str | None] = mapped_column(String(1024))


class FlashSaleHolding(Base):
    """How many units of an item a member holds now (pending or paid orders)."""

    __tablename__ = "flash_sale_holdings"
    __table_args__ = (CheckConstraint("held >= 0", name="held_not_negative"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("flash_sale_items.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    held: Mapped[int]


class FlashSaleOrder(Base):
    """One claimed unit. Statuses: pending (payment) → paid, or → released / cancelled.

    `source` is "claim" (a member's 抢) or "waitlist" (a released unit offered to the next).
    """

    __tablename__ = "flash_sale_orders"
    __table_args__ = (
        Index("ix_flash_sale_orders_due", "status", "pay_deadline"),
        Index("ix_flash_sale_orders_sale_id_status", "sale_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("flash_sale_items.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id"))
    claim_key: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="claim")
    status: Mapped[str] = mapped_column(String(16))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    points_spent: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime]
    pay_deadline: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    payment_ref: Mapped[str | None] = mapped_column(String(128))
    operator: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(255))


class FlashSaleWaitlist(Base):
    """A member queued for a sold-out item; offered the next released unit, oldest first.

    Statuses: waiting → offered (an order was made for them) or closed (sale over/cancelled).
    """

    __tablename__ = "flash_sale_waitlist"
    __table_args__ = (
        UniqueConstraint("item_id", "member_id"),
        Index("ix_flash_sale_waitlist_item_id_status", "item_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("flash_sales.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("flash_sale_items.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id"))
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    created_at: Mapped[datetime]
    offered_at: Mapped[datetime | None]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("flash_sale_orders.id"))


class FlashSaleBlock(Base):
    """A member barred from flash sales (e.g. resellers); sales exclude them by default."""

    __tablename__ = "flash_sale_blocks"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
