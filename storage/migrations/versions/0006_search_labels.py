"""search index: province and topic labels in the index, on both engines

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 07:40:00

A search with a province or topic filter is then one FTS5 lookup, newest first, that reads no
`items` row until it has its page (storage/search_index.py). `items_fts` gets a third column,
`labels`: "p<code>" per province, "t<slug without hyphens>" per topic. The FTS5 table is
contentless, and SQLite before 3.43 removes an entry only given the values it was indexed with,
so `items_fts_labels` keeps each item's indexed label tokens; triggers on the label tables
remove the entry with the old tokens, store the new ones and index the entry again.

PostgreSQL: `items_search`, a narrow table (id, published_at, vector) of the items that are no
copy, replaces 0003's generated column on `items`: its tsvector holds the title's words with
weight A and again as "tt<word>" tokens, the folded text's words, and the label tokens with
weight B; a GIN index and a
(published_at, id) index serve it. Kept by triggers on `items` and the label tables, so a search
reads narrow rows only, never the large `items` rows. Written out here: migrations do not import
model code.
"""
from alembic import op

revision = '0006'
down_revision = '0005'
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


_RUNS = "to_tsvector('simple'::regconfig, regexp_replace({}, '[^a-z0-9]+', ' ', 'g'))"
_PG_LABELS = ("setweight(to_tsvector('simple'::regconfig, coalesce((SELECT string_agg('p' ||"
              " province, ' ') FROM item_provinces WHERE item_id = {id}), '') || ' ' ||"
              " coalesce((SELECT string_agg('t' || replace(topic, '-', ''), ' ') FROM item_topics"
              " WHERE item_id = {id}), '')), 'B')")
# The title's words once more, each as "tt<word>": the GIN index cannot see weights, so these
# let it find title hits (search_index.TITLE_PREFIX).
_PG_TITLE = ("to_tsvector('simple'::regconfig, regexp_replace(regexp_replace(items.title_fold,"
             " '[^a-z0-9]+', ' ', 'g'), '([a-z0-9]+)', 'tt\\1', 'g'))")
_PG_VECTOR = (f"setweight({_RUNS.format('items.title_fold')}, 'A') ||"
              f" {_RUNS.format('items.search_text')} || {_PG_LABELS.format(id='items.id')} ||"
              f" {_PG_TITLE}")
_PG = [
    "DROP INDEX ix_items_search_vector",
    "ALTER TABLE items DROP COLUMN search_vector",
    "CREATE TABLE items_search (id bigint PRIMARY KEY, published_at timestamptz NOT NULL,"
    " vector tsvector NOT NULL)",
    f"INSERT INTO items_search SELECT id, published_at, {_PG_VECTOR} FROM items"
    " WHERE duplicate_of IS NULL",
    "CREATE INDEX ix_items_search_vector ON items_search USING gin (vector)",
    "CREATE INDEX ix_items_search_published ON items_search (published_at, id)",
    "CREATE FUNCTION items_search_refresh(item bigint) RETURNS void LANGUAGE sql AS $$"
    " DELETE FROM items_search WHERE id = item;"
    f" INSERT INTO items_search SELECT id, published_at, {_PG_VECTOR} FROM items"
    " WHERE id = item AND duplicate_of IS NULL $$",
    "CREATE FUNCTION items_search_item() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP <> 'INSERT' THEN PERFORM items_search_refresh(OLD.id); END IF;"
    " IF TG_OP <> 'DELETE' THEN PERFORM items_search_refresh(NEW.id); END IF;"
    " RETURN NULL; END $$",
    "CREATE TRIGGER items_search_item AFTER INSERT OR DELETE OR UPDATE OF title_fold,"
    " search_text, published_at, duplicate_of, id ON items FOR EACH ROW"
    " EXECUTE FUNCTION items_search_item()",
    "CREATE FUNCTION items_search_label() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP <> 'INSERT' THEN PERFORM items_search_refresh(OLD.item_id); END IF;"
    " IF TG_OP <> 'DELETE' THEN PERFORM items_search_refresh(NEW.item_id); END IF;"
    " RETURN NULL; END $$",
    # Only a change of label: a new date on the label rows (0005) comes with the item's own.
    "CREATE TRIGGER items_search_provinces AFTER INSERT OR DELETE OR UPDATE OF item_id, province"
    " ON item_provinces"
    " FOR EACH ROW EXECUTE FUNCTION items_search_label()",
    "CREATE TRIGGER items_search_topics AFTER INSERT OR DELETE OR UPDATE OF item_id, topic"
    " ON item_topics"
    " FOR EACH ROW EXECUTE FUNCTION items_search_label()",
]
_PG_DOWN = [
    "DROP TRIGGER items_search_topics ON item_topics",
    "DROP TRIGGER items_search_provinces ON item_provinces",
    "DROP TRIGGER items_search_item ON items",
    "DROP FUNCTION items_search_label()",
    "DROP FUNCTION items_search_item()",
    "DROP FUNCTION items_search_refresh(bigint)",
    "DROP TABLE items_search",
    # 0003's generated column and index, as 0003 made them
    "ALTER TABLE items ADD COLUMN search_vector tsvector GENERATED ALWAYS AS"
    f" ({_RUNS.format('search_text')}) STORED",
    "CREATE INDEX ix_items_search_vector ON items USING gin (search_vector)"
    " WHERE duplicate_of IS NULL",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        for statement in _PG:
            op.execute(statement)
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
        for statement in _PG_DOWN:
            op.execute(statement)
        return
    for name in _LABEL_TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    for statement in _rebuild(False):
        op.execute(statement)
    op.execute("DROP TABLE items_fts_labels")
