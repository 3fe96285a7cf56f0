"""Search and latest items, with the same results on SQLite and PostgreSQL.

Items are matched on their folded text (`items.search_text`, `items.title_fold`: lowercase, no
diacritics, đ→d, punctuation kept). A query word matches whole words only ("nha" is not "nhan"):
the text, padded with spaces, must contain the word between two characters that are not [a-z0-9]
(storage.dialect.has_words, the same on SQLite and PostgreSQL). Every word must occur; a hit in
the title counts more, and the whole phrase more still; ties go to the newest item. Province,
region and topic words in the query become filters, as in /sub; a topic's words ("lũ quét") still
rank the items that contain them first, without being required. Query words are reduced to
[a-z0-9] runs, so quotes, `*`, `:`, `-` or brackets in a query can never reach SQL as syntax.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from classify.query import parse_phrase
from runtime import App
from services import limits
from storage.dialect import dialect, has_words
from storage.models import Item, ItemProvince, ItemTopic
from storage.views import ItemView, load_items
from vntext import fold_tokens

PER_PAGE = 5
MAX_WORDS = 12  # a pasted paragraph is not a query; the first words are plenty
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class SearchPage:
    items: list[ItemView]
    page: int
    pages: int
    total: int
    topics: tuple[str, ...] = ()  # filters read out of the query
    provinces: tuple[str, ...] = ()
    words: tuple[str, ...] = field(default=())  # folded words that must occur


def _padded(column: SQLColumnExpression[str]) -> ColumnElement[str]:
    return literal(" ") + func.coalesce(column, "") + literal(" ")


def _query_words(text: str) -> list[str]:
    return [w for token in fold_tokens(text) for w in _WORD.findall(token)][:MAX_WORDS]


async def _run(session: AsyncSession, *, topics: tuple[str, ...], provinces: tuple[str, ...],
               words: list[str], page: int, per_page: int, ranked: bool,
               boost: list[str]) -> tuple[list[int], int]:
    conditions: list[ColumnElement[bool]] = [Item.duplicate_of.is_(None)]
    if provinces:
        conditions.append(exists().where(ItemProvince.item_id == Item.id,
                                         ItemProvince.province.in_(provinces)))
    if topics:
        conditions.append(exists().where(ItemTopic.item_id == Item.id, ItemTopic.topic.in_(topics)))
    engine = dialect(session)
    base = select(Item.id.label("id"), Item.published_at.label("published_at"),
                  _padded(Item.search_text).label("body"),
                  _padded(Item.title_fold).label("title")).where(*conditions).subquery()

    def has(column: ColumnElement[str], phrase: str) -> ColumnElement[bool]:
        return has_words(engine, column, phrase)

    matched = and_(true(), *(or_(has(base.c.body, w), has(base.c.title, w)) for w in words))
    total = int(await session.scalar(select(func.count()).select_from(base).where(matched)) or 0)
    order: list[ColumnElement[Any]] = []
    if ranked and (words or boost):
        score = sum((case((has(base.c.title, w), 3), else_=0)
                     + case((has(base.c.body, w), 1), else_=0) for w in words + boost),
                    start=literal(0))
        if len(words) > 1:
            phrase = " ".join(words)
            score = (score + case((has(base.c.title, phrase), 5), else_=0)
                     + case((has(base.c.body, phrase), 2), else_=0))
        order.append(score.desc())
    order += [base.c.published_at.desc(), base.c.id.desc()]
    ids = (await session.scalars(select(base.c.id).where(matched).order_by(*order)
                                 .limit(per_page).offset((page - 1) * per_page))).all()
    return list(ids), total


async def _page(app: App, text: str, page: int, per_page: int, ranked: bool,
                within: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())) -> SearchPage:
    parsed = parse_phrase(limits.check_text(text, limits.MAX_QUERY_CHARS))
    provinces = within[0] or tuple(parsed.provinces)
    topics = within[1] or tuple(parsed.topics)
    words = _query_words(parsed.keywords)
    boost = _query_words(" ".join(e["text"] for e in parsed.evidence if e["kind"] == "topic"))
    page = max(page, 1)
    async with app.sessions() as session:
        ids, total = await _run(session, topics=topics, provinces=provinces, words=words,
                                page=page, per_page=per_page, ranked=ranked, boost=boost)
        pages = max(math.ceil(total / per_page), 1)
        if not ids and page > pages:  # past the end: show the last page instead of nothing
            page = pages
            ids, total = await _run(session, topics=topics, provinces=provinces, words=words,
                                    page=page, per_page=per_page, ranked=ranked, boost=boost)
        views = await load_items(session, ids)
    return SearchPage([views[i] for i in ids if i in views], page, pages, total, topics,
                      provinces, tuple(words))


async def search(app: App, query: str, page: int = 1, per_page: int = PER_PAGE, *,
                 provinces: tuple[str, ...] = (), topics: tuple[str, ...] = ()) -> SearchPage:
    """Ranked results for a free-text query: best first, newest first among equals.

    `provinces` or `topics`, when given, replace the filters read out of the query (a web page's
    province and topic filter)."""
    return await _page(app, query, page, per_page, ranked=True, within=(provinces, topics))


async def latest(app: App, text: str = "", limit: int = PER_PAGE) -> SearchPage:
    """The newest items, optionally only those of a province, a topic or some words."""
    return await _page(app, text, 1, limit, ranked=False)
