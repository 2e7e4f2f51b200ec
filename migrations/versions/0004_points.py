"""points: append-only ledger, cached balances, daily caps, check-ins and check-in campaigns

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-22 21:56:42.564813
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.base

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Same statements as app.db.models.points (kept here so this revision never changes).
LEDGER_GUARD_POSTGRESQL = (
    "CREATE FUNCTION points_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'points_ledger is append-only'; END $$",
    "CREATE TRIGGER points_ledger_append_only BEFORE UPDATE OR DELETE ON points_ledger "
    "FOR EACH ROW EXECUTE FUNCTION points_ledger_append_only()",
)
LEDGER_GUARD_SQLITE = (
    "CREATE TRIGGER points_ledger_no_update BEFORE UPDATE ON points_ledger "
    "BEGIN SELECT RAISE(ABORT, 'points_ledger is append-only'); END",
    "CREATE TRIGGER points_ledger_no_delete BEFORE DELETE ON points_ledger "
    "BEGIN SELECT RAISE(ABORT, 'points_ledger is append-only'); END",
)


def upgrade() -> None:
    op.create_table('checkin_campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('chats', sa.JSON(), nullable=False),
    sa.Column('starts_at', app.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', app.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('streak_bonuses', sa.JSON(), nullable=False),
    sa.Column('streak_bonus_repeat', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkin_campaigns'))
    )
    op.create_table('checkin_counters',
    sa.Column('chat_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_checkin_counters_chat_id_chats')),
    sa.PrimaryKeyConstraint('chat_id', 'day', name=op.f('pk_checkin_counters'))
    )
    op.create_table('checkins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('chat_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('streak', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('bonus', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('makeup', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['checkin_campaigns.id'], name=op.f('fk_checkins_campaign_id_checkin_campaigns')),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_checkins_chat_id_chats')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_checkins_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkins')),
    sa.UniqueConstraint('member_id', 'day', name=op.f('uq_checkins_member_id_day'))
    )
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.create_index('ix_checkins_chat_id_day', ['chat_id', 'day'], unique=False)
        batch_op.create_index('ix_checkins_day', ['day'], unique=False)

    op.create_table('points_accounts',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=False),
    sa.Column('earned', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', app.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('balance >= 0', name=op.f('ck_points_accounts_balance_not_negative')),
    sa.CheckConstraint('earned >= 0', name=op.f('ck_points_accounts_earned_not_negative')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_points_accounts_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_points_accounts'))
    )
    op.create_table('points_daily',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('earned', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_at', app.db.base.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_points_daily_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', 'day', 'kind', name=op.f('pk_points_daily'))
    )
    op.create_table('points_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sa.Integer(), nullable=True),
    sa.Column('delta', sa.BigInteger(), nullable=False),
    sa.Column('balance_after', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('ref', sa.String(length=128), nullable=True),
    sa.Column('operator', sa.String(length=64), nullable=True),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.Column('idempotency_key', sa.String(length=191), nullable=False),
    sa.Column('created_at', app.db.base.UtcDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('delta <> 0', name=op.f('ck_points_ledger_delta_not_zero')),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], name=op.f('fk_points_ledger_chat_id_chats')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_points_ledger_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_ledger')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_points_ledger_idempotency_key'))
    )
    with op.batch_alter_table('points_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_points_ledger_chat_id'), ['chat_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_points_ledger_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_points_ledger_member_id_id', ['member_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_points_ledger_reason'), ['reason'], unique=False)

    # The ledger is append-only: the database refuses UPDATE and DELETE of an entry.
    dialect = op.get_bind().dialect.name
    guards = LEDGER_GUARD_POSTGRESQL if dialect == 'postgresql' else LEDGER_GUARD_SQLITE
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS points_ledger_append_only ON points_ledger')
        op.execute('DROP FUNCTION IF EXISTS points_ledger_append_only()')
    else:
        op.execute('DROP TRIGGER IF EXISTS points_ledger_no_update')
        op.execute('DROP TRIGGER IF EXISTS points_ledger_no_delete')
    with op.batch_alter_table('points_ledger', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_points_ledger_reason'))
        batch_op.drop_index('ix_points_ledger_member_id_id')
        batch_op.drop_index(batch_op.f('ix_points_ledger_created_at'))
        batch_op.drop_index(batch_op.f('ix_points_ledger_chat_id'))

    op.drop_table('points_ledger')
    op.drop_table('points_daily')
    op.drop_table('points_accounts')
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_index('ix_checkins_day')
        batch_op.drop_index('ix_checkins_chat_id_day')

    op.drop_table('checkins')
    op.drop_table('checkin_counters')
    op.drop_table('checkin_campaigns')
