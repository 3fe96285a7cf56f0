"""Search and latest items, with the same results on SQLite and PostgreSQL.

Items are matched on their folded text (`items.search_text`: lowercase, no diacritics, đ→d). A
query word matches whole words only ("nha" is not "nhan"), and every word must occur; a full-text
index answers that on each engine (storage/search_index.py), so a search reads only the items
it shows. Results are ranked in two tiers: items whose title holds every word first, then the
others; newest first within each. The total is exact up to CAP and shown as "1,000+" beyond, so
no search counts more than CAP + 1 items. Province, region and topic words in the query become
filters, as in /sub. Query words are reduced to [a-z0-9] runs, so quotes, `*`, `:`, `-`, `NEAR`
or brackets in a query can never reach SQL or FTS5 as syntax.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from classify.query import parse_phrase
from runtime import App
from services import limits
from storage.search_index import Part, Query, find, newest
from storage.search_index import ranked as ranked_page
from storage.views import ItemView, load_items
from vntext import fold_tokens

PER_PAGE = 5
MAX_WORDS = 12  # a pasted paragraph is not a query; the first words are plenty
CAP = 1000  # totals are exact up to this many items, "1,000+" beyond
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class SearchPage:
    items: list[ItemView]
    page: int
    pages: int
    total: int  # at most CAP; `more` says there are more
    topics: tuple[str, ...] = ()  # filters read out of the query
    provinces: tuple[str, ...] = ()
    words: tuple[str, ...] = field(default=())  # folded words that must occur
    more: bool = False  # more than CAP items match


def _query_words(text: str) -> list[str]:
    return [w for token in fold_tokens(text) for w in _WORD.findall(token)][:MAX_WORDS]


async def _page(app: App, text: str, page: int, per_page: int, ranked: bool,
                within: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())) -> SearchPage:
    parsed = parse_phrase(limits.check_text(text, limits.MAX_QUERY_CHARS))
    query = Query(tuple(_query_words(parsed.keywords)), within[0] or tuple(parsed.provinces),
                  within[1] or tuple(parsed.topics))
    async with app.sessions() as session:
        found = await find(session, query, CAP + 1)
        total = min(found.total, CAP)
        pages = max(math.ceil(total / per_page), 1)
        page = min(max(page, 1), pages)  # past the end: the last page instead of nothing
        offset = (page - 1) * per_page
        if not found.total:
            ids: list[int] = []
        elif ranked and query.words:
            ids = await ranked_page(session, query, per_page, offset, found,
                                    few=found.total <= CAP)
        else:
            ids = await newest(session, query, Part.ALL, per_page, offset, found)
        views = await load_items(session, ids)
    return SearchPage([views[i] for i in ids if i in views], page, pages, total, query.topics,
                      query.provinces, query.words, more=found.total > CAP)


async def search(app: App, query: str, page: int = 1, per_page: int = PER_PAGE, *,
                 provinces: tuple[str, ...] = (), topics: tuple[str, ...] = ()) -> SearchPage:
    """Ranked results for a free-text query: best first, newest first among equals.

    `provinces` or `topics`, when given, replace the filters read out of the query (a web page's
    province and topic filter)."""
    return await _page(app, query, page, per_page, ranked=True, within=(provinces, topics))


async def latest(app: App, text: str = "", limit: int = PER_PAGE) -> SearchPage:
    """The newest items, optionally only those of a province, a topic or some words."""
    return await _page(app, text, 1, limit, ranked=False)
