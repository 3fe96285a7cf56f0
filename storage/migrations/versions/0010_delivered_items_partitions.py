"""PostgreSQL: `delivered_items` partitioned by month on item id ranges

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:00:00

What was given of old items can go a month at a time (DROP TABLE of a partition, no rows
deleted one by one) while "this chat has this item" stays unique over the whole table: the
partition key is `item_id`, which the primary key (chat_id, item_id) contains, and item ids grow
with time (storage/partitions.py). The rows already there become the partition
`delivered_items_initial` (FROM MINVALUE TO max(items.id) + 1), attached as they are: no copy,
their primary key and `created_at` index become the partitioned ones'. New items' rows go to an
open partition named by this month, which the daily retention job closes at the next month's
turn. SQLite has no partitions: nothing changes there.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

COLUMNS = """chat_id integer NOT NULL, item_id bigint NOT NULL, subscription_id integer,
    created_at timestamp with time zone NOT NULL,
    CONSTRAINT pk_delivered_items PRIMARY KEY (chat_id, item_id),
    CONSTRAINT fk_delivered_items_chat_id_chats FOREIGN KEY (chat_id)
        REFERENCES chats (id) ON DELETE CASCADE,
    CONSTRAINT fk_delivered_items_item_id_items FOREIGN KEY (item_id)
        REFERENCES items (id) ON DELETE CASCADE,
    CONSTRAINT fk_delivered_items_subscription_id_subscriptions FOREIGN KEY (subscription_id)
        REFERENCES subscriptions (id) ON DELETE SET NULL"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    op.execute("LOCK TABLE chats, items, subscriptions, delivered_items IN ACCESS EXCLUSIVE MODE")
    bound = int(bind.execute(sa.text("SELECT COALESCE(MAX(id), 0) + 1 FROM items")).scalar_one())
    month = f"delivered_items_{datetime.now(UTC):%Y_%m}"
    # The table as it is becomes the first partition; its names free for the partitioned one.
    op.execute("ALTER TABLE delivered_items RENAME TO delivered_items_initial")
    op.execute("ALTER TABLE delivered_items_initial RENAME CONSTRAINT pk_delivered_items"
               " TO delivered_items_initial_pkey")
    op.execute("ALTER INDEX ix_delivered_items_created_at"
               " RENAME TO delivered_items_initial_created_at_idx")
    op.execute(f"CREATE TABLE delivered_items ({COLUMNS}) PARTITION BY RANGE (item_id)")
    op.execute("CREATE INDEX ix_delivered_items_created_at ON delivered_items (created_at)")
    # The foreign keys already hold every row: with the CHECK, ATTACH reads nothing again.
    op.execute(f"ALTER TABLE delivered_items_initial ADD CONSTRAINT delivered_items_initial_bound"
               f" CHECK (item_id < {bound})")
    op.execute(f"ALTER TABLE delivered_items ATTACH PARTITION delivered_items_initial"
               f" FOR VALUES FROM (MINVALUE) TO ({bound})")
    op.execute("ALTER TABLE delivered_items_initial DROP CONSTRAINT delivered_items_initial_bound")
    op.execute(f"CREATE TABLE {month} PARTITION OF delivered_items"
               f" FOR VALUES FROM ({bound}) TO (MAXVALUE)")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("LOCK TABLE chats, items, subscriptions, delivered_items IN ACCESS EXCLUSIVE MODE")
    columns = COLUMNS.replace('pk_delivered_items', 'delivered_items_single_pkey')
    op.execute(f"CREATE TABLE delivered_items_single ({columns})")
    op.execute("INSERT INTO delivered_items_single SELECT chat_id, item_id, subscription_id,"
               " created_at FROM delivered_items")
    op.execute("DROP TABLE delivered_items")  # and its partitions
    op.execute("ALTER TABLE delivered_items_single RENAME TO delivered_items")
    op.execute("ALTER TABLE delivered_items RENAME CONSTRAINT delivered_items_single_pkey"
               " TO pk_delivered_items")
    op.execute("CREATE INDEX ix_delivered_items_created_at ON delivered_items (created_at)")
