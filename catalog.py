"""The fixed label sets: the 34 current provinces and the 13 topics (data/catalog.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CATALOG_FILE = Path(__file__).parent / "data" / "catalog.json"


@dataclass(frozen=True)
class Province:
    code: str  # current two-digit NSO code, e.g. "33"
    name: str  # "Hưng Yên"
    type: str  # "tỉnh" or "thành phố trung ương"
    former: tuple[tuple[str, str], ...]  # (former code, former name), e.g. ("34", "Thái Bình")


@dataclass(frozen=True)
class Topic:
    slug: str
    name_vi: str
    name_en: str


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, Province], dict[str, Topic]]:
    data = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    provinces = {
        p["code"]: Province(p["code"], p["name"], p["type"],
                            tuple((f["code"], f["name"]) for f in p["former"]))
        for p in data["provinces"]
    }
    topics = {t["slug"]: Topic(t["slug"], t["name_vi"], t["name_en"]) for t in data["topics"]}
    return provinces, topics


def provinces() -> dict[str, Province]:
    """Current provinces by code, in code order."""
    return _load()[0]


def topics() -> dict[str, Topic]:
    """Topics by slug, in the spec's order."""
    return _load()[1]


def province_name(code: str) -> str:
    province = provinces().get(code)
    return province.name if province else code


def topic_name(slug: str, lang: str = "vi") -> str:
    topic = topics().get(slug)
    if not topic:
        return slug
    return topic.name_en if lang == "en" else topic.name_vi
