"""label dates: each label row carries its item's publication date, indexed per label

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 07:40:00

The web pages and feeds list a province's or a topic's items newest first. With the date on the
label row, the index (province, published_at, item_id) walks them in that order and stops after a
page, instead of collecting every item of the label and sorting them all (about 30 ms at 1M
items). Triggers keep the copy equal to items.published_at, so no writer has to know about it:
a new label takes its item's date, and an item's new date reaches its labels. Existing labels
are dated here. The triggers are not in the models; the columns and indexes are.
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_LABELS = (('item_provinces', 'province'), ('item_topics', 'topic'))
_SQLITE = [
    *(f"CREATE TRIGGER {table}_dated AFTER INSERT ON {table} BEGIN UPDATE {table} SET"
      " published_at = (SELECT published_at FROM items WHERE id = NEW.item_id)"
      f" WHERE item_id = NEW.item_id AND {label} = NEW.{label}; END"
      for table, label in _LABELS),
    "CREATE TRIGGER items_redated AFTER UPDATE OF published_at ON items BEGIN"
    " UPDATE item_provinces SET published_at = NEW.published_at WHERE item_id = NEW.id;"
    " UPDATE item_topics SET published_at = NEW.published_at WHERE item_id = NEW.id; END",
]
_POSTGRESQL = [
    "CREATE FUNCTION label_dated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " NEW.published_at := (SELECT published_at FROM items WHERE id = NEW.item_id);"
    " RETURN NEW; END $$",
    *(f"CREATE TRIGGER {table}_dated BEFORE INSERT ON {table} FOR EACH ROW"
      " EXECUTE FUNCTION label_dated()" for table, _ in _LABELS),
    "CREATE FUNCTION item_redated() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " UPDATE item_provinces SET published_at = NEW.published_at WHERE item_id = NEW.id;"
    " UPDATE item_topics SET published_at = NEW.published_at WHERE item_id = NEW.id;"
    " RETURN NULL; END $$",
    "CREATE TRIGGER items_redated AFTER UPDATE OF published_at ON items FOR EACH ROW"
    " EXECUTE FUNCTION item_redated()",
]


def upgrade() -> None:
    for table, label in _LABELS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('published_at', sa.DateTime(timezone=True),
                                          nullable=True))
        op.execute(f"UPDATE {table} SET published_at = (SELECT published_at FROM items"
                   f" WHERE items.id = {table}.item_id)")
        op.create_index(f'ix_{table}_recent', table, [label, 'published_at', 'item_id'])
    for statement in (_SQLITE if op.get_bind().dialect.name == 'sqlite' else _POSTGRESQL):
        op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table, _ in _LABELS:
        op.execute(f"DROP TRIGGER {table}_dated" + ("" if sqlite else f" ON {table}"))
    op.execute("DROP TRIGGER items_redated" + ("" if sqlite else " ON items"))
    if not sqlite:
        op.execute("DROP FUNCTION item_redated()")
        op.execute("DROP FUNCTION label_dated()")
    for table, _ in _LABELS:
        op.drop_index(f'ix_{table}_recent', table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('published_at')
