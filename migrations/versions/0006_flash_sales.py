"""flash sales: sales, their groups and items, orders, holdings, waitlist, blocked members

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-23 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.base

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flash_sales",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("payment_window_minutes", sa.Integer(), nullable=False),
        sa.Column("min_level", sa.Integer(), nullable=True),
        sa.Column("joined_before", app.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("exclude_blocked", sa.Boolean(), nullable=False),
        sa.Column("waitlist", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", app.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("results_sent_at", app.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_sales")),
    )
    op.create_table(
        "flash_sale_blocks",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_flash_sale_blocks_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_flash_sale_blocks")),
    )
    op.create_table(
        "flash_sale_chats",
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_flash_sale_chats_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["flash_sales.id"], name=op.f("fk_flash_sale_chats_sale_id_flash_sales")
        ),
        sa.PrimaryKeyConstraint("sale_id", "chat_id", name=op.f("pk_flash_sale_chats")),
    )
    op.create_index(
        op.f("ix_flash_sale_chats_chat_id"), "flash_sale_chats", ["chat_id"], unique=False
    )
    op.create_table(
        "flash_sale_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("points_price", sa.Integer(), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("per_member_limit", sa.Integer(), nullable=False),
        sa.Column("image_url", sa.String(length=1024), nullable=True),
        sa.Column("link_url", sa.String(length=1024), nullable=True),
        sa.CheckConstraint(
            "per_member_limit >= 1", name=op.f("ck_flash_sale_items_limit_positive")
        ),
        sa.CheckConstraint(
            "price_cents >= 0", name=op.f("ck_flash_sale_items_price_not_negative")
        ),
        sa.CheckConstraint("stock <= total", name=op.f("ck_flash_sale_items_stock_within_total")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_flash_sale_items_stock_not_negative")),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["flash_sales.id"], name=op.f("fk_flash_sale_items_sale_id_flash_sales")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_sale_items")),
        sa.UniqueConstraint("sale_id", "number", name=op.f("uq_flash_sale_items_sale_id_number")),
    )
    op.create_index(
        op.f("ix_flash_sale_items_sale_id"), "flash_sale_items", ["sale_id"], unique=False
    )
    op.create_table(
        "flash_sale_holdings",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.CheckConstraint("held >= 0", name=op.f("ck_flash_sale_holdings_held_not_negative")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["flash_sale_items.id"],
            name=op.f("fk_flash_sale_holdings_item_id_flash_sale_items"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_flash_sale_holdings_member_id_members")
        ),
        sa.PrimaryKeyConstraint("item_id", "member_id", name=op.f("pk_flash_sale_holdings")),
    )
    op.create_table(
        "flash_sale_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=True),
        sa.Column("claim_key", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("points_spent", sa.Integer(), nullable=False),
        sa.Column("claimed_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("pay_deadline", app.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("paid_at", app.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", app.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("payment_ref", sa.String(length=128), nullable=True),
        sa.Column("operator", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_flash_sale_orders_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["flash_sale_items.id"],
            name=op.f("fk_flash_sale_orders_item_id_flash_sale_items"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_flash_sale_orders_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["flash_sales.id"], name=op.f("fk_flash_sale_orders_sale_id_flash_sales")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_sale_orders")),
        sa.UniqueConstraint("claim_key", name=op.f("uq_flash_sale_orders_claim_key")),
    )
    op.create_index(
        "ix_flash_sale_orders_due", "flash_sale_orders", ["status", "pay_deadline"], unique=False
    )
    op.create_index(
        op.f("ix_flash_sale_orders_item_id"), "flash_sale_orders", ["item_id"], unique=False
    )
    op.create_index(
        op.f("ix_flash_sale_orders_member_id"), "flash_sale_orders", ["member_id"], unique=False
    )
    op.create_index(
        "ix_flash_sale_orders_sale_id_status",
        "flash_sale_orders",
        ["sale_id", "status"],
        unique=False,
    )
    op.create_table(
        "flash_sale_waitlist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("offered_at", app.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_flash_sale_waitlist_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["flash_sale_items.id"],
            name=op.f("fk_flash_sale_waitlist_item_id_flash_sale_items"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_flash_sale_waitlist_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["flash_sale_orders.id"],
            name=op.f("fk_flash_sale_waitlist_order_id_flash_sale_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"],
            ["flash_sales.id"],
            name=op.f("fk_flash_sale_waitlist_sale_id_flash_sales"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_sale_waitlist")),
        sa.UniqueConstraint(
            "item_id", "member_id", name=op.f("uq_flash_sale_waitlist_item_id_member_id")
        ),
    )
    op.create_index(
        "ix_flash_sale_waitlist_item_id_status",
        "flash_sale_waitlist",
        ["item_id", "status", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_flash_sale_waitlist_sale_id"), "flash_sale_waitlist", ["sale_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_flash_sale_waitlist_sale_id"), table_name="flash_sale_waitlist")
    op.drop_index("ix_flash_sale_waitlist_item_id_status", table_name="flash_sale_waitlist")
    op.drop_table("flash_sale_waitlist")
    op.drop_index("ix_flash_sale_orders_sale_id_status", table_name="flash_sale_orders")
    op.drop_index(op.f("ix_flash_sale_orders_member_id"), table_name="flash_sale_orders")
    op.drop_index(op.f("ix_flash_sale_orders_item_id"), table_name="flash_sale_orders")
    op.drop_index("ix_flash_sale_orders_due", table_name="flash_sale_orders")
    op.drop_table("flash_sale_orders")
    op.drop_table("flash_sale_holdings")
    op.drop_index(op.f("ix_flash_sale_items_sale_id"), table_name="flash_sale_items")
    op.drop_table("flash_sale_items")
    op.drop_index(op.f("ix_flash_sale_chats_chat_id"), table_name="flash_sale_chats")
    op.drop_table("flash_sale_chats")
    op.drop_table("flash_sale_blocks")
    op.drop_table("flash_sales")
