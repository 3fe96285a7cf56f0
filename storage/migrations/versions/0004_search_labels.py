"""search index: province and topic labels as tokens in SQLite's FTS5 entry

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 07:40:00

A search with a province or topic filter is then one FTS5 lookup, newest first, that reads no
`items` row until it has its page (storage/search_index.py). `items_fts` gets a third column,
`labels`: "p<code>" per province, "t<slug without hyphens>" per topic. The FTS5 table is
contentless, and SQLite before 3.43 removes an entry only given the values it was indexed with,
so `items_fts_labels` keeps each item's indexed label tokens; triggers on the label tables
remove the entry with the old tokens, store the new ones and index the entry again. PostgreSQL
is unchanged. Written out here: migrations do not import model code.
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

_KEY = ("max(0, min(coalesce(unixepoch({row}.published_at), 0), 4294967295)) * 2147483648"
        " + {row}.id")
_STORED = "coalesce((SELECT labels FROM items_fts_labels WHERE item_id = {row}.id), '')"
# An item's label tokens, as search_index.label_token writes them.
_TOKENS = ("trim(coalesce((SELECT group_concat('p' || province, ' ') FROM item_provinces"
           " WHERE item_id = {id}), '') || ' ' || coalesce((SELECT group_concat('t' ||"
           " replace(topic, '-', ''), ' ') FROM item_topics WHERE item_id = {id}), ''))")


def _add(row: str, labels: bool, source: str = "", also: str = "") -> str:
    columns, values = ("title, body, labels", f", {_STORED.format(row=row)}") if labels \
        else ("title, body", "")
    return (f"INSERT INTO items_fts(rowid, {columns}) SELECT {_KEY.format(row=row)},"
            f" {row}.title_fold, {row}.search_text{values}{source}"
            f" WHERE {row}.duplicate_of IS NULL{also};")


def _remove(row: str, labels: bool, source: str = "", also: str = "") -> str:
    columns, values = ("title, body, labels", f", {_STORED.format(row=row)}") if labels \
        else ("title, body", "")
    return (f"INSERT INTO items_fts(items_fts, rowid, {columns}) SELECT 'delete',"
            f" {_KEY.format(row=row)}, {row}.title_fold, {row}.search_text{values}{source}"
            f" WHERE {row}.duplicate_of IS NULL{also};")


def _refresh(item_id: str) -> str:
    """An item's entry again with its current labels; nothing once the item is gone (a cascade
    from its deletion, whose own trigger removes the entry with the stored tokens)."""
    this = (" FROM items", f" AND items.id = {item_id}")
    return (_remove("items", True, *this)
            + f" DELETE FROM items_fts_labels WHERE item_id = {item_id}"
            f" AND EXISTS (SELECT 1 FROM items WHERE id = {item_id});"
            f" INSERT INTO items_fts_labels(item_id, labels) SELECT id,"
            f" {_TOKENS.format(id=item_id)} FROM items WHERE id = {item_id};"
            + f" {_add('items', True, *this)}")


_ITEM_TRIGGERS = ('items_fts_update', 'items_fts_delete', 'items_fts_insert')
_LABEL_TRIGGERS = [f"items_fts_{table}_{event}" for table in ('provinces', 'topics')
                   for event in ('insert', 'delete', 'update')]


def _item_triggers(labels: bool) -> list[str]:
    forget = " DELETE FROM items_fts_labels WHERE item_id = old.id;" if labels else ""
    return [
        f"CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN {_add('new', labels)} END",
        f"CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN {_remove('old', labels)}"
        f"{forget} END",
        "CREATE TRIGGER items_fts_update AFTER UPDATE OF title_fold, search_text, published_at,"
        f" duplicate_of, id ON items BEGIN {_remove('old', labels)} {_add('new', labels)} END",
    ]


def _rebuild(labels: bool) -> list[str]:
    """items_fts dropped and built again over the stored items, with or without labels."""
    columns = "title, body, labels" if labels else "title, body"
    values = ", coalesce(l.labels, '')" if labels else ""
    join = " LEFT JOIN items_fts_labels l ON l.item_id = items.id" if labels else ""
    return [
        *(f"DROP TRIGGER {name}" for name in _ITEM_TRIGGERS),
        "DROP TABLE items_fts",
        f"CREATE VIRTUAL TABLE items_fts USING fts5({columns}, content='',"
        " tokenize='unicode61 remove_diacritics 0')",
        f"INSERT INTO items_fts(rowid, {columns}) SELECT {_KEY.format(row='items')},"
        f" title_fold, search_text{values} FROM items{join} WHERE duplicate_of IS NULL",
        *_item_triggers(labels),
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.execute("CREATE TABLE items_fts_labels (item_id INTEGER PRIMARY KEY, labels TEXT NOT NULL)")
    op.execute("INSERT INTO items_fts_labels(item_id, labels) SELECT item_id,"
               " group_concat(token, ' ') FROM (SELECT item_id, 'p' || province AS token"
               " FROM item_provinces UNION ALL SELECT item_id, 't' || replace(topic, '-', '')"
               " FROM item_topics) GROUP BY item_id")
    for statement in _rebuild(True):
        op.execute(statement)
    for table, column in (('provinces', 'province'), ('topics', 'topic')):
        op.execute(f"CREATE TRIGGER items_fts_{table}_insert AFTER INSERT ON item_{table}"
                   f" BEGIN {_refresh('new.item_id')} END")
        op.execute(f"CREATE TRIGGER items_fts_{table}_delete AFTER DELETE ON item_{table}"
                   f" BEGIN {_refresh('old.item_id')} END")
        op.execute(f"CREATE TRIGGER items_fts_{table}_update AFTER UPDATE OF item_id, {column}"
                   f" ON item_{table} BEGIN {_refresh('old.item_id')} {_refresh('new.item_id')}"
                   " END")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for name in _LABEL_TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    for statement in _rebuild(False):
        op.execute(statement)
    op.execute("DROP TABLE items_fts_labels")
