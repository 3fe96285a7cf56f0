"""delivered items without their outbox row: `delivery_id` goes, `created_at` is indexed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 09:00:00

`delivered_items` is the largest table at scale (a row per item a chat was given, kept while a
digest window can reach it). Its link to the outbox row cost a column and an index per row and
kept sent rows alive only to be deleted with it; retention now deletes what was given by its
own date (delivery/retention.py), which the new index serves.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delivered_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivered_items_delivery_id'))
        batch_op.drop_constraint(batch_op.f('fk_delivered_items_delivery_id_deliveries'),
                                 type_='foreignkey')
        batch_op.drop_column('delivery_id')
        batch_op.create_index(batch_op.f('ix_delivered_items_created_at'), ['created_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('delivered_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivered_items_created_at'))
        batch_op.add_column(sa.Column(
            'delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_delivered_items_delivery_id_deliveries'),
                                    'deliveries', ['delivery_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_delivered_items_delivery_id'), ['delivery_id'],
                              unique=False)
