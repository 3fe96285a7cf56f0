"""label scores: the classifier's confidence in each stored province and topic label

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 17:20:00

Labels stored before this revision had no score; they get 1.0, which is what a label without a
score means everywhere (classify/confidence.py): they keep being delivered as before.
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('item_provinces', 'item_topics'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('score', sa.Float(), server_default='1',
                                          nullable=False))


def downgrade() -> None:
    for table in ('item_topics', 'item_provinces'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('score')
