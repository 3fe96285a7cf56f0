"""The full-text index behind search, one per engine, and the queries that read it.

What it finds is what a scan of the folded text finds: every query word (a run of [a-z0-9])
occurs as a whole word in `items.search_text` (folded title and summary), republished copies
left out. It only finds it without reading every item.

- **SQLite**: `items_fts`, a contentless FTS5 table over (`title_fold`, `search_text`, label
  tokens) of the items that are no copy, kept by triggers on `items` (insert, delete, and an
  update of the text, the date or `duplicate_of`; migration 0003) and on the label tables
  (migration 0006, with `items_fts_labels` holding the tokens each entry was indexed with, which
  a contentless table needs to remove it). Its rowid is a recency key, the publication second
  times 2^31 plus the item id, so FTS5 hands matches out newest first and stops at the LIMIT:
  a common word costs what a rare one does. The unicode61 tokenizer cuts folded text at the same
  places as the whole-word check (anything not a letter or digit), so no recheck is needed; a
  word glued to a letter outside a-z that folding keeps (Cyrillic, CJK) is found only as the
  whole run.
- **PostgreSQL**: `items_search` (migration 0006), a narrow table (id, publication time,
  tsvector) of the items that are no copy, kept by triggers on `items` and the label tables. Its
  tsvector (the `simple` configuration, since the text is folded already) is built from the
  text reduced to its [a-z0-9] runs, so that the parser cannot read "5.000" as one number or
  "tp.hcm" as a host name: its tokens are exactly the whole words the check sees. Title words
  carry weight A, so a title hit is `word:A` (and `tt<word>`, for the GIN index); label tokens
  carry weight B, so no word of the text is taken for a label. A GIN index and a
  (published_at, id) index serve it. A GIN scan costs what all the matches cost (a bitmap of
  every match, no early stop), and the planner cannot tell common from rare: it multiplies the
  words' frequencies, and Vietnamese words are syllables that come together ("tổ chức"), so it
  underestimates and sorts tens of thousands of rows for a page of five. So `find` first walks
  the date index over the newest rows (a subquery with its own LIMIT, which reads exactly
  those), keeping the matches and whether their title holds the words: a common query reaches
  CAP + 1 matches there, and its total and first pages come from that walk alone. A rare one
  (few matches among the newest rows) is counted through the GIN index, which is cheap for few
  matches, and its pages continue past the walked rows on the index the planner picks. A search
  never reads the large `items` rows until it has its page.

Labels are tokens (`label_token`): "p<code>" for a province, "t<slug without hyphens>" for a
topic, so words and filters are one index lookup on both engines. The index objects are not in
the models: Alembic's comparison skips them (`HIDDEN`, storage/migrations/env.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    bindparam,
    column,
    false,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnClause

from storage.dialect import dialect, not_a_copy
from storage.models import Item

# The SQLite rowid's split: publication second × ID_SPAN + item id (SQLite ids stay below 2^31).
ID_SPAN = 2**31
# PostgreSQL's vector holds each title word again with this prefix (migration 0006), which the
# GIN index can look up: weights it cannot see, and the planner's estimates ignore them.
TITLE_PREFIX = "tt"
# What the schema holds beyond the models: Alembic's comparison leaves these alone.
HIDDEN = frozenset({"items_fts", "items_fts_data", "items_fts_idx", "items_fts_content",
                    "items_fts_docsize", "items_fts_config", "items_fts_labels", "items_search",
                    "ix_items_search_vector", "ix_items_search_published"})


class Part(Enum):
    """Which matches a query reads: all of them, those whose title holds every word (ranked
    first), or the others."""

    ALL = "all"
    TITLE = "title"
    REST = "rest"


@dataclass(frozen=True)
class Query:
    words: tuple[str, ...]  # runs of [a-z0-9], every one required
    provinces: tuple[str, ...] = ()  # any of them
    topics: tuple[str, ...] = ()  # any of them


def label_token(province: str | None = None, topic: str | None = None) -> str:
    """A label as SQLite's index holds it (`items_fts.labels`, migration 0006): one [a-z0-9] run,
    so that FTS5 reads it as one token."""
    return f"p{province}" if province is not None else f"t{(topic or '').replace('-', '')}"


def _fts_match(query: Query, part: Part) -> str:
    """An FTS5 query of quoted words and label tokens only: the words are [a-z0-9] runs, so
    nothing a user types (quotes, `*`, `NEAR`, `-`, `:`) reaches FTS5 as syntax."""
    words = " ".join(f'"{w}"' for w in query.words)
    title = f"{{title}} : ({words})"
    found = [{Part.ALL: f"({words})", Part.TITLE: title,
              Part.REST: f"(({words}) NOT {title})"}[part]] if query.words else []
    for tokens in ([label_token(province=p) for p in query.provinces],
                   [label_token(topic=t) for t in query.topics]):
        if tokens:
            found.append("{labels} : (" + " OR ".join(f'"{t}"' for t in tokens) + ")")
    return " AND ".join(found)


def _sqlite_ids(query: Query, part: Part) -> Any:
    """Through FTS5, newest first: words and filters in one lookup, no `items` row read."""
    rowid: ColumnClause[int] = literal_column("items_fts.rowid", BigInteger)
    return (select((rowid % ID_SPAN).label("id")).select_from(text("items_fts"))
            .where(text("items_fts MATCH :match").bindparams(match=_fts_match(query, part)))
            .order_by(rowid.desc()))


# PostgreSQL's narrow copy of what search reads (migration 0006), not in the models.
_SEARCH = table("items_search", column("id", BigInteger),
                column("published_at", DateTime(timezone=True)), column("vector"))


def _tsquery(query: Query, part: Part) -> str:
    """A tsquery over `items_search.vector`: title words carry weight A, label tokens B. Words
    and labels are [a-z0-9] runs, so nothing a user types reaches it as syntax."""
    words = " & ".join(query.words)
    title = " & ".join(f"{w}:A" for w in query.words)
    # The title tier's GIN lookup: "tt<word>" tokens; the weights keep it exact.
    in_title = " & ".join(f"{TITLE_PREFIX}{w} & {w}:A" for w in query.words)
    found = [{Part.ALL: words, Part.TITLE: in_title, Part.REST: f"{words} & !({title})"}[part]] \
        if query.words else []
    for tokens in ([label_token(province=p) for p in query.provinces],
                   [label_token(topic=t) for t in query.topics]):
        if tokens:
            found.append(" | ".join(f"{t}:B" for t in tokens))
    return " & ".join(f"({f})" for f in found)


def _postgresql_match(query: Query, part: Part, vector: Any = _SEARCH.c.vector
                      ) -> ColumnElement[bool]:
    tsquery = func.to_tsquery(literal_column("'simple'"),
                              bindparam(f"tsquery_{part.value}", _tsquery(query, part)))
    matched: ColumnElement[bool] = vector.op("@@", is_comparison=True)(tsquery)
    return matched


def _postgresql_ids(query: Query, part: Part) -> Any:
    """Through `items_search` only: its GIN index or its date index, as the planner picks."""
    return (select(_SEARCH.c.id).where(_postgresql_match(query, part))
            .order_by(_SEARCH.c.published_at.desc(), _SEARCH.c.id.desc()))


def _recent_ids(sqlite: bool) -> Any:
    """No words, no filters: the newest items, read through the `published_at` index and
    stopped at the LIMIT. On SQLite `not_a_copy` keeps the planner off the `duplicate_of`
    index, which would make it sort every item that is no copy."""
    original = not_a_copy() if sqlite else Item.duplicate_of.is_(None)
    return (select(Item.id).where(original)
            .order_by(Item.published_at.desc(), Item.id.desc()))


def _ids(session: AsyncSession, query: Query, part: Part) -> Any:
    """The statement that lists the matches of `part`, newest first. On PostgreSQL one
    statement, whose plan the planner picks from its statistics; on SQLite FTS5 whenever there
    are words or filters, else the date index."""
    sqlite = dialect(session) == "sqlite"
    if query.words or query.provinces or query.topics:
        return _sqlite_ids(query, part) if sqlite else _postgresql_ids(query, part)
    return _recent_ids(sqlite)


# PostgreSQL's walks (`find`): the first reads few rows and tells a common query from a rare
# one; a query with DENSE matches there has CAP + 1 (1,001) within the second walk's rows, if
# its matches are spread evenly over time. Reading a row costs about what one match costs the
# GIN index, so the walk pays where the matches are many and the GIN index where they are few.
PROBE_ROWS = 1_000
DENSE = 40
WALK_ROWS = 30_000
# A tier's page past the walked hits, when the tier is common among them: this many more rows
# at most, then the planner's pick (rare tiers, which the GIN index finds cheaply).
TIER_ROWS = 5_000


@dataclass(frozen=True)
class Hit:
    """A match found by walking the date index."""

    id: int
    published_at: datetime
    titled: bool  # every word in the title: the first tier


@dataclass(frozen=True)
class Found:
    """How many items match (counted up to a cap) and, on PostgreSQL, the newest matches: every
    match down to the last of `newest`, newest first, so a page within them needs no query."""

    total: int
    newest: tuple[Hit, ...] = ()
    complete: bool = False  # `newest` holds every match
    rows: int = 0  # about how many rows the walks read: what a tier's density is measured on


def _older(hits: tuple[Hit, ...]) -> list[ColumnElement[bool]]:
    """The items past the last hit, newest first: a range of the (published_at, id) index."""
    if not hits:
        return []
    return [tuple_(_SEARCH.c.published_at, _SEARCH.c.id)
            < tuple_(literal(hits[-1].published_at, DateTime(timezone=True)),
                     literal(hits[-1].id, BigInteger))]


async def _walk(session: AsyncSession, query: Query, part: Part, past: tuple[Hit, ...],
                rows: int, limit: int) -> tuple[Hit, ...]:
    """The matches of `part` among the `rows` items past `past`, newest first, at most
    `limit`. The subquery's own LIMIT makes PostgreSQL read exactly those rows through the date
    index, whatever it estimates, and the outer one stops the walk at the `limit`-th match."""
    recent = (select(_SEARCH.c.id, _SEARCH.c.published_at, _SEARCH.c.vector)
              .where(*_older(past))
              .order_by(_SEARCH.c.published_at.desc(), _SEARCH.c.id.desc())
              .limit(rows).subquery("recent"))
    titled = _postgresql_match(query, Part.TITLE, recent.c.vector) if query.words else false()
    statement = (select(recent.c.id, recent.c.published_at, titled)
                 .where(_postgresql_match(query, part, recent.c.vector))
                 .order_by(recent.c.published_at.desc(), recent.c.id.desc()).limit(limit))
    return tuple(Hit(*row) for row in await session.execute(statement))


async def count(session: AsyncSession, query: Query, part: Part, cap: int) -> int:
    """How many items match, counted up to `cap` (a larger count reads as `cap`)."""
    found = _ids(session, query, part).order_by(None).limit(cap).subquery()
    return int(await session.scalar(select(func.count()).select_from(found)) or 0)


async def find(session: AsyncSession, query: Query, cap: int) -> Found:
    """How many items match, counted up to `cap`. PostgreSQL with words or filters walks the
    newest rows first (module docstring), and counts through the GIN index only when the walk
    did not reach `cap`."""
    if dialect(session) != "postgresql" or not (query.words or query.provinces or query.topics):
        return Found(await count(session, query, Part.ALL, cap))
    hits = await _walk(session, query, Part.ALL, (), PROBE_ROWS, cap)
    rows = PROBE_ROWS
    if DENSE <= len(hits) < cap:
        hits += await _walk(session, query, Part.ALL, hits, WALK_ROWS, cap - len(hits))
        rows += WALK_ROWS
    if len(hits) == cap:
        return Found(cap, hits, rows=rows)
    total = await count(session, query, Part.ALL, cap)
    return Found(total, hits, complete=len(hits) == total, rows=rows)


def _in(hit: Hit, part: Part) -> bool:
    return part is Part.ALL or hit.titled == (part is Part.TITLE)


async def newest(session: AsyncSession, query: Query, part: Part, limit: int,
                 offset: int = 0, found: Found | None = None) -> list[int]:
    """The ids of the matching items, newest first (publication time, then id): from the hits
    `found` walked, which are the first ones, then from a query for the rest of the page. That
    query has no (published_at, id) bound past the hits: with one the planner walks the date
    index for a tier too rare to be among the hits, instead of looking it up."""
    if limit <= 0:
        return []
    walked, rows = (found.newest, found.rows) if found is not None else ((), 0)
    known = [hit.id for hit in walked if _in(hit, part)]
    wanted = offset + limit - len(known)
    if 0 < wanted and known and rows * wanted <= len(known) * TIER_ROWS // 2 \
            and not (found and found.complete):
        # as common among the walked rows, the rest of the page lies within TIER_ROWS / 2 rows
        known += [hit.id for hit in await _walk(session, query, part, walked, TIER_ROWS, wanted)]
    ids = known[offset:offset + limit]
    if len(ids) == limit or (found is not None and found.complete):
        return ids
    statement = _ids(session, query, part).limit(limit - len(ids)).offset(offset + len(ids))
    return ids + list(await session.scalars(statement))


async def ranked(session: AsyncSession, query: Query, limit: int, offset: int,
                 found: Found, few: bool) -> list[int]:
    """The ids of a page of matches, title hits first, newest first within each. Every match
    walked: ranked here. `few`: the query matches at most a few thousand items, which PostgreSQL
    then ranks in one statement through the GIN index; otherwise (and always on SQLite, whose
    FTS5 reads title hits apart) the title hits up to the page's end are read newest first (the
    walked ones, then those past them), then the others."""
    if found.complete:
        hits = sorted(found.newest, key=lambda hit: not hit.titled)  # stable: newest first
        return [hit.id for hit in hits[offset:offset + limit]]
    if few and dialect(session) == "postgresql":
        statement = _postgresql_ids(query, Part.ALL).order_by(None).order_by(
            _postgresql_match(query, Part.TITLE).desc(), _SEARCH.c.published_at.desc(),
            _SEARCH.c.id.desc())
        return list(await session.scalars(statement.limit(limit).offset(offset)))
    titled = await newest(session, query, Part.TITLE, offset + limit, 0, found)
    ids = titled[offset:]
    if len(ids) < limit:
        ids += await newest(session, query, Part.REST, limit - len(ids),
                            max(offset - len(titled), 0), found)
    return ids
