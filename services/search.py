"""Search and latest items, identical on SQLite and PostgreSQL.

Both engines run the same plain SQL: the folded text (`items.search_text`, `items.title_fold`)
has its punctuation turned into spaces and is padded with spaces, so a folded query word matches
whole words only (" nha " does not match "nhan"). Every word must occur; a hit in the title counts
more, and the whole phrase more still. Ties go to the newest item. Province and topic words in the
query become filters, as in /sub. Query words are taken with `vntext.fold_tokens`, and LIKE's own
wildcards are escaped, so quotes, `*`, `:`, `-` or brackets can never break a query.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from classify.query import parse_phrase
from delivery.views import ItemView, load_items
from runtime import App
from storage.models import Item, ItemProvince, ItemTopic
from vntext import fold_tokens

PER_PAGE = 5
MAX_WORDS = 12  # a pasted paragraph is not a query; the first words are plenty
# Characters that separate words in folded text (fold keeps punctuation).
_SEPARATORS = ".,;:!?\"'()[]{}<>/\\|+*&#%@=~^`$_-–—…“”‘’«»\n\r\t"


@dataclass(frozen=True)
class SearchPage:
    items: list[ItemView]
    page: int
    pages: int
    total: int
    topics: tuple[str, ...] = ()  # filters read out of the query
    provinces: tuple[str, ...] = ()
    words: tuple[str, ...] = field(default=())  # folded words that must occur


def _words_of(column: ColumnElement[str]) -> ColumnElement[str]:
    expr = column
    for ch in _SEPARATORS:
        expr = func.replace(expr, ch, " ")
    return literal(" ") + expr + literal(" ")


def _has(padded: ColumnElement[str], phrase: str) -> ColumnElement[bool]:
    return padded.contains(f" {phrase} ", autoescape=True)


def _query_words(text: str) -> list[str]:
    return [w for w in fold_tokens(text.replace("_", " "))][:MAX_WORDS]


async def _run(session: AsyncSession, *, topics: tuple[str, ...], provinces: tuple[str, ...],
               words: list[str], page: int, per_page: int, ranked: bool) -> tuple[list[int], int]:
    conditions: list[ColumnElement[bool]] = [Item.duplicate_of.is_(None)]
    if provinces:
        conditions.append(exists().where(ItemProvince.item_id == Item.id,
                                         ItemProvince.province.in_(provinces)))
    if topics:
        conditions.append(exists().where(ItemTopic.item_id == Item.id, ItemTopic.topic.in_(topics)))
    base = select(Item.id.label("id"), Item.published_at.label("published_at"),
                  _words_of(Item.search_text).label("body"),
                  _words_of(Item.title_fold).label("title")).where(*conditions).subquery()
    matched = and_(true(), *(or_(_has(base.c.body, w), _has(base.c.title, w)) for w in words))
    total = int(await session.scalar(select(func.count()).select_from(base).where(matched)) or 0)
    order: list[ColumnElement[object]] = []
    if ranked and words:
        score = sum((case((_has(base.c.title, w), 3), else_=0) + case((_has(base.c.body, w), 1),
                                                                        else_=0) for w in words),
                    start=literal(0))
        if len(words) > 1:
            phrase = " ".join(words)
            score = score + case((_has(base.c.title, phrase), 5), else_=0) \
                + case((_has(base.c.body, phrase), 2), else_=0)
        order.append(score.desc())
    order += [base.c.published_at.desc(), base.c.id.desc()]
    ids = (await session.scalars(select(base.c.id).where(matched).order_by(*order)
                                 .limit(per_page).offset((page - 1) * per_page))).all()
    return list(ids), total


async def _page(app: App, text: str, page: int, per_page: int, ranked: bool) -> SearchPage:
    parsed = parse_phrase(text)
    topics, provinces = tuple(parsed.topics), tuple(parsed.provinces)
    words = _query_words(" ".join(parsed.keywords) if not isinstance(parsed.keywords, str)
                         else parsed.keywords)
    page = max(page, 1)
    async with app.sessions() as session:
        ids, total = await _run(session, topics=topics, provinces=provinces, words=words,
                                page=page, per_page=per_page, ranked=ranked)
        pages = max(math.ceil(total / per_page), 1)
        if not ids and page > pages:  # past the end: show the last page instead of nothing
            page = pages
            ids, total = await _run(session, topics=topics, provinces=provinces, words=words,
                                    page=page, per_page=per_page, ranked=ranked)
        views = await load_items(session, ids)
    return SearchPage([views[i] for i in ids if i in views], page, pages, total, topics,
                      provinces, tuple(words))


async def search(app: App, query: str, page: int = 1, per_page: int = PER_PAGE) -> SearchPage:
    """Ranked results for a free-text query: best first, newest first among equals."""
    return await _page(app, query, page, per_page, ranked=True)


async def latest(app: App, text: str = "", limit: int = PER_PAGE) -> SearchPage:
    """The newest items, optionally only those of a province, a topic or some words."""
    return await _page(app, text, 1, limit, ranked=False)
