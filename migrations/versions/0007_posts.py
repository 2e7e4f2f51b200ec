"""posts: scheduled posts, revisions, occurrences, deliveries, campaigns, announcements

Revision ID: 0007
Revises: 0001
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.base

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("starts_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("key", name=op.f("uq_campaigns_key")),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=True),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("next_due_at", app.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("approved_at", app.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
    )
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index("ix_posts_due", ["status", "next_due_at"], unique=False)

    op.create_table(
        "campaign_announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("template_key", sa.String(length=64), nullable=False),
        sa.Column("anchor", sa.String(length=8), nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_announcements_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_campaign_announcements_post_id_posts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_announcements")),
        sa.UniqueConstraint(
            "campaign_id",
            "template_key",
            name=op.f("uq_campaign_announcements_campaign_id_template_key"),
        ),
    )
    with op.batch_alter_table("campaign_announcements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_announcements_campaign_id"), ["campaign_id"], unique=False
        )

    op.create_table(
        "post_occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("due_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_occurrences_post_id_posts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_occurrences")),
        sa.UniqueConstraint("post_id", "due_at", name=op.f("uq_post_occurrences_post_id_due_at")),
    )
    with op.batch_alter_table("post_occurrences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_occurrences_due_at"), ["due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_post_occurrences_post_id"), ["post_id"], unique=False
        )

    op.create_table(
        "post_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_revisions_post_id_posts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_revisions")),
    )
    with op.batch_alter_table("post_revisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_revisions_post_id"), ["post_id"], unique=False)

    op.create_table(
        "post_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("due_at", app.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_post_deliveries_chat_id_chats")
        ),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["post_occurrences.id"],
            name=op.f("fk_post_deliveries_occurrence_id_post_occurrences"),
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_deliveries_post_id_posts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_deliveries")),
        sa.UniqueConstraint(
            "occurrence_id", "chat_id", name=op.f("uq_post_deliveries_occurrence_id_chat_id")
        ),
    )
    with op.batch_alter_table("post_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_post_deliveries_chat_id"), ["chat_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_post_deliveries_due_at"), ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_post_deliveries_post_id"), ["post_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("post_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_deliveries_post_id"))
        batch_op.drop_index(batch_op.f("ix_post_deliveries_due_at"))
        batch_op.drop_index(batch_op.f("ix_post_deliveries_chat_id"))
    op.drop_table("post_deliveries")
    with op.batch_alter_table("post_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_revisions_post_id"))
    op.drop_table("post_revisions")
    with op.batch_alter_table("post_occurrences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_occurrences_post_id"))
        batch_op.drop_index(batch_op.f("ix_post_occurrences_due_at"))
    op.drop_table("post_occurrences")
    with op.batch_alter_table("campaign_announcements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_announcements_campaign_id"))
    op.drop_table("campaign_announcements")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_due")
    op.drop_table("posts")
    op.drop_table("campaigns")
