"""flash sales: early_access (levels with early access may claim before the start)

Revision ID: 0008
Revises: 0006
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing sales keep early access on, as new ones get it by default.
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("early_access", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("flash_sales", schema=None) as batch_op:
        batch_op.drop_column("early_access")
