"""Migration 0002 (label scores) on both engines: labels stored before it read as fully
confident, and it goes down and up again cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from storage.db import sync_url
from storage.migrate import HEAD, current_head, current_revision, upgrade
from tests.conftest import pg_database, require_pg


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """An empty database (no migration applied) on each engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'loa.db'}"
        return
    require_pg()
    with pg_database() as url:
        yield url


def _one_labelled_item(engine: Engine, now: datetime) -> None:
    """A source, an item and its province and topic label, in the columns of revision 0001."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sources (id, url, kind, name, state, error_count, "
                          "primed, created_at) VALUES (1, 'https://a.vn/rss', 'feed', 'A', "
                          "'active', 0, true, :now)"), {"now": now})
        conn.execute(text("INSERT INTO items (id, source_id, canonical_url, guid, title, "
                          "summary, published_at, fetched_at, content_hash, title_fold, "
                          "search_text, backlog) VALUES (1, 1, 'https://a.vn/1', 'g1', 'x', "
                          "'', :now, :now, 'h', '', '', false)"), {"now": now})
        conn.execute(text("INSERT INTO item_provinces (item_id, province, rank, evidence) "
                          "VALUES (1, '15', 0, '[]')"))
        conn.execute(text("INSERT INTO item_topics (item_id, topic, evidence) "
                          "VALUES (1, 'bau-cu', '[]')"))


def test_label_scores_migration_keeps_old_labels_confident(empty_url: str) -> None:
    from alembic import command

    from storage.migrate import alembic_config

    assert current_head() >= "0005"  # later revisions are applied and undone too
    upgrade(empty_url, "0001")
    engine = create_engine(sync_url(empty_url))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        _one_labelled_item(engine, now)
        upgrade(empty_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT score FROM item_provinces")).scalar_one() == 1.0
            assert conn.execute(text("SELECT score FROM item_topics")).scalar_one() == 1.0
        command.downgrade(alembic_config(empty_url), "0001")
        engine.dispose()
        columns = {c["name"] for c in inspect(engine).get_columns("item_provinces")}
        assert "score" not in columns
        upgrade(empty_url)
        engine.dispose()
        assert "score" in {c["name"] for c in inspect(engine).get_columns("item_topics")}
    finally:
        engine.dispose()


def test_upgrade_knows_the_head_and_leaves_alembic_out_when_the_database_is_there(
        empty_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert HEAD == current_head()  # a new migration moves storage.migrate.HEAD too
    upgrade(empty_url, "0001")
    upgrade(empty_url)  # behind: Alembic runs every step
    assert current_revision(empty_url) == HEAD

    from alembic import command

    def no_alembic(*args: object, **kwargs: object) -> None:
        raise AssertionError("Alembic ran on a database at the head")

    monkeypatch.setattr(command, "upgrade", no_alembic)
    upgrade(empty_url)


def test_the_models_and_the_migrations_agree(empty_url: str) -> None:
    """`alembic check`: on a freshly migrated database, autogenerate finds nothing the models
    have and the migrations lack (or the reverse), column types included."""
    from alembic import command

    from storage.migrate import alembic_config

    upgrade(empty_url)
    command.check(alembic_config(empty_url))


def test_search_index_migration_indexes_the_stored_items(empty_url: str) -> None:
    """0003 and 0006 index the items already stored (copies left out), and go down cleanly."""
    from alembic import command

    from storage.migrate import alembic_config

    upgrade(empty_url, "0002")
    engine = create_engine(sync_url(empty_url))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    sqlite = engine.dialect.name == "sqlite"
    found = ("SELECT rowid % 2147483648 FROM items_fts WHERE items_fts MATCH '\"treo\"'" if sqlite
             else "SELECT id FROM items_search WHERE vector @@ to_tsquery('simple', 'treo')")
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO sources (id, url, kind, name, state, error_count, "
                              "primed, created_at) VALUES (1, 'https://a.vn/rss', 'feed', 'A', "
                              "'active', 0, true, :now)"), {"now": now})
            for n, copy_of in ((1, None), (2, 1)):
                conn.execute(text(
                    "INSERT INTO items (id, source_id, canonical_url, guid, title, summary, "
                    "published_at, fetched_at, content_hash, title_fold, search_text, backlog, "
                    "duplicate_of) VALUES (:n, 1, :url, :url, 'Cầu treo', '', :now, :now, 'h', "
                    "'cau treo', 'cau treo', false, :copy)"),
                    {"n": n, "url": f"https://a.vn/{n}", "now": now, "copy": copy_of})
        upgrade(empty_url)
        with engine.connect() as conn:
            assert conn.execute(text(found)).scalars().all() == [1]
        command.downgrade(alembic_config(empty_url), "0002")
        engine.dispose()
        assert "search_vector" not in {c["name"] for c in inspect(engine).get_columns("items")}
        assert "items_fts" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_label_dates_migration_dates_the_stored_labels(empty_url: str) -> None:
    """0005 copies each item's date onto its labels, and goes down cleanly."""
    from alembic import command

    from storage.migrate import alembic_config

    upgrade(empty_url, "0003")
    engine = create_engine(sync_url(empty_url))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        _one_labelled_item(engine, now)
        upgrade(empty_url, "0005")
        with engine.connect() as conn:
            for table in ("item_provinces", "item_topics"):
                assert conn.execute(text(
                    f"SELECT count(*) FROM {table} JOIN items ON items.id = item_id"
                    f" WHERE {table}.published_at = items.published_at")).scalar_one() == 1
        command.downgrade(alembic_config(empty_url), "0003")
        engine.dispose()
        for table in ("item_provinces", "item_topics"):
            assert "published_at" not in {c["name"] for c in inspect(engine).get_columns(table)}
        with engine.begin() as conn:  # the triggers went with the columns
            conn.execute(text("INSERT INTO item_topics (item_id, topic, evidence) "
                              "VALUES (1, 'y-te', '[]')"))
    finally:
        engine.dispose()


def test_deliveries_pages_keep_room_for_a_rows_next_version(empty_url: str) -> None:
    """0009 (PostgreSQL): `deliveries` pages are filled to 70%, so storing a claimed row's
    items can be a heap-only update; it goes down cleanly. Nothing changes on SQLite."""
    from alembic import command

    from storage.migrate import alembic_config

    if empty_url.startswith("sqlite"):
        upgrade(empty_url)
        return
    engine = create_engine(sync_url(empty_url))
    options = "SELECT reloptions FROM pg_class WHERE relname = 'deliveries'"
    try:
        upgrade(empty_url)
        with engine.connect() as conn:
            assert conn.execute(text(options)).scalar_one() == ["fillfactor=70"]
        command.downgrade(alembic_config(empty_url), "0008")
        with engine.connect() as conn:
            assert conn.execute(text(options)).scalar_one() is None
    finally:
        engine.dispose()


def test_delivered_items_partitions_keep_the_rows_there(empty_url: str) -> None:
    """0010 (PostgreSQL): the rows already in `delivered_items` become its first partition (up
    to the next item id), new items' rows go to the open one, and each (chat, item) stays one
    row across them; it goes down with the rows kept. Nothing changes on SQLite."""
    from alembic import command

    from storage.migrate import alembic_config

    upgrade(empty_url, "0009")
    engine = create_engine(sync_url(empty_url))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    sqlite = engine.dialect.name == "sqlite"
    given = ("INSERT INTO delivered_items (chat_id, item_id, created_at) VALUES (1, :item, :now)"
             + ("" if sqlite else " ON CONFLICT DO NOTHING"))
    where = "SELECT item_id, tableoid::regclass::text FROM delivered_items ORDER BY item_id"
    try:
        _one_labelled_item(engine, now)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO chats (id, channel, chat_key, kind, title, lang, "
                              "active, default_mode, default_hour, default_weekday, created_at)"
                              " VALUES (1, 'telegram', '1', 'private', '', 'vi', true, "
                              "'instant', 7, 0, :now)"), {"now": now})
            conn.execute(text(given), {"item": 1, "now": now})
        upgrade(empty_url)
        if sqlite:
            assert "delivered_items_initial" not in inspect(engine).get_table_names()
            return
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO items (id, source_id, canonical_url, guid, title, "
                              "summary, published_at, fetched_at, content_hash, title_fold, "
                              "search_text, backlog) VALUES (2, 1, 'https://a.vn/2', 'g2', 'y', "
                              "'', :now, :now, 'h2', '', '', false)"), {"now": now})
            for item in (1, 2, 2):
                conn.execute(text(given), {"item": item, "now": now})
            rows = conn.execute(text(where)).all()
            bound = conn.execute(text(
                "SELECT pg_get_expr(relpartbound, oid) FROM pg_class"
                " WHERE relname = 'delivered_items_initial'")).scalar_one()
        assert rows[0] == (1, "delivered_items_initial") and len(rows) == 2
        assert rows[1][1].startswith("delivered_items_20")
        assert bound == "FOR VALUES FROM (MINVALUE) TO ('2')"
        command.downgrade(alembic_config(empty_url), "0009")
        with engine.connect() as conn:
            assert conn.execute(text(where)).all() == [(1, "delivered_items"),
                                                      (2, "delivered_items")]
            assert conn.execute(text("SELECT count(*) FROM pg_class WHERE relispartition"
                                     " OR relkind = 'p'")).scalar_one() == 0
        upgrade(empty_url)
        command.check(alembic_config(empty_url))
    finally:
        engine.dispose()
