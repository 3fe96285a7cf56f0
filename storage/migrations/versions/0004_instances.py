"""several instances: leases, seen chat updates, and the claim on a source being polled

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 06:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('leases',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=40), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases'))
    )
    op.create_table('seen_updates',
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('update_key', sa.String(length=64), nullable=False),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'update_key', name=op.f('pk_seen_updates'))
    )
    with op.batch_alter_table('seen_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_updates_taken_at'), ['taken_at'], unique=False)
    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    # Not in batch mode: SQLite drops a column in place (3.35+) instead of copying the table,
    # which the search index's triggers on it would lock.
    op.drop_column('sources', 'claimed_until')
    op.drop_column('sources', 'claimed_by')
    with op.batch_alter_table('seen_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_updates_taken_at'))
    op.drop_table('seen_updates')
    op.drop_table('leases')
