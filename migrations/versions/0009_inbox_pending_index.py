"""inbox: index only the pending rows, in id order (the worker's claim)

Revision ID: 0009
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    # The status index made every claim read and sort the whole backlog to take its batch.
    op.drop_index("ix_inbox_status", table_name="inbox")
    op.create_index(
        "ix_inbox_pending", "inbox", ["id"], postgresql_where=PENDING, sqlite_where=PENDING
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_pending", table_name="inbox")
    op.create_index("ix_inbox_status", "inbox", ["status"])
