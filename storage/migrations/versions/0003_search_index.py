"""search index: FTS5 on SQLite, a tsvector with a GIN index on PostgreSQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 06:50:00

storage/search_index.py says what each index holds and why. Existing items are indexed here
(SQLite: one INSERT ... SELECT; PostgreSQL: the generated column fills in as the table is
rewritten). Neither object is in the models; env.py keeps Alembic's comparison off them.
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# The SQLite rowid: the publication second (clamped to what fits) × 2^31 + the item id, so that
# FTS5 returns matches newest first. Written out here: migrations do not import model code.
_KEY = ("max(0, min(coalesce(unixepoch({row}.published_at), 0), 4294967295)) * 2147483648"
        " + {row}.id")
_ADD = ("INSERT INTO items_fts(rowid, title, body) SELECT " + _KEY.format(row='new')
        + ", new.title_fold, new.search_text WHERE new.duplicate_of IS NULL;")
_REMOVE = ("INSERT INTO items_fts(items_fts, rowid, title, body) SELECT 'delete', "
           + _KEY.format(row='old') + ", old.title_fold, old.search_text"
           " WHERE old.duplicate_of IS NULL;")
_SQLITE = [
    "CREATE VIRTUAL TABLE items_fts USING fts5(title, body, content='',"
    " tokenize='unicode61 remove_diacritics 0')",
    "INSERT INTO items_fts(rowid, title, body) SELECT " + _KEY.format(row='items')
    + ", title_fold, search_text FROM items WHERE duplicate_of IS NULL",
    f"CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN {_ADD} END",
    f"CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN {_REMOVE} END",
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF title_fold, search_text, published_at,"
    f" duplicate_of, id ON items BEGIN {_REMOVE} {_ADD} END",
]
_POSTGRESQL = [
    "ALTER TABLE items ADD COLUMN search_vector tsvector GENERATED ALWAYS AS"
    " (to_tsvector('simple'::regconfig, regexp_replace(search_text, '[^a-z0-9]+', ' ', 'g')))"
    " STORED",
    "CREATE INDEX ix_items_search_vector ON items USING gin (search_vector)"
    " WHERE duplicate_of IS NULL",
]


def upgrade() -> None:
    for statement in (_SQLITE if op.get_bind().dialect.name == 'sqlite' else _POSTGRESQL):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for name in ('items_fts_update', 'items_fts_delete', 'items_fts_insert'):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE items_fts")
    else:
        op.execute("DROP INDEX ix_items_search_vector")
        op.execute("ALTER TABLE items DROP COLUMN search_vector")
