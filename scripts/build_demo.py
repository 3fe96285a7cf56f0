#!/usr/bin/env python3
"""Regenerate data/demo/ (the offline demo's feeds and listing page) from data/labelled/.

    .venv/bin/python scripts/build_demo.py [--out DIR]

The demo serves 87 real items, picked once by hand-checked criteria (see data/demo/README.md) and
frozen here as a fixed list of labelled ids, so the files are reproducible byte for byte: three
provincial papers' RSS feeds, one national RSS feed and one listing page in the mattran.org.vn
layout (the `mattran` preset). Only the headline, the short summary, the publisher and the
original URL of each item are written; the gold labels stay in data/labelled/ (the feeds must not
tell the classifier the answer).

Times: item number `seq` of the replay order (outlets interleaved) is dated START + seq * STEP,
and data/demo/demo.json records that order, so the demo clock can serve a backlog at once and
let the rest "arrive" later. RSS is written with the standard library's ElementTree: the files are
small and fixed, and no feed library is needed at run time for this.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from enum import StrEnum
from itertools import zip_longest
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classify.labelled import labelled_files, load_jsonl

DEMO_DIR = ROOT / "data" / "demo"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 1, 5, 7, 0, tzinfo=HCM)
STEP = timedelta(minutes=7)
SUMMARY_MAX = 300  # characters: a short excerpt, never the article


class Kind(StrEnum):
    RSS = "rss"
    LISTING = "listing"


@dataclass(frozen=True, slots=True)
class Outlet:
    """One demo source: a file served as if it were the outlet's feed or listing page."""

    file: str
    kind: Kind
    title: str
    description: str
    home_province: str | None  # the outlet's home province code (a provincial paper), else None
    ids: tuple[str, ...]  # labelled ids, in the order the outlet publishes them


OUTLETS: tuple[Outlet, ...] = (
    Outlet("tin-trong-nuoc.xml", Kind.RSS, "Tin trong nước (demo Loa)",
           "Tin thời sự trong nước từ các báo quốc gia; mỗi tin ghi rõ báo gốc.", None, (
               "d0291", "t9d51f07915", "tc7558ed850", "tb376c98bdd", "d0031", "t10da5f1284",
               "d0015", "td7d5adc3ba", "tf6e20982d7", "tbace14fc3e", "t15f27b2737", "d0098",
               "t918cb0031a", "tf166e51be5", "t3374d3fc92", "d0073", "t587e8311dc", "d0174",
               "te76fcf03d1", "d0248", "tbe37a69ed8", "t68167d284c", "d0337", "d0077",
               "t83d779c6fa", "d0237", "d0306", "tc5c03b3935", "t07a3bbc71a", "t23605bf16e",
               "d0283", "d0242", "d0008", "t4c946ed2d7", "d0258", "t40a9b7b7e5",
               # items about no province and no topic: the classifier must leave them alone
               "t0c6ac3dc6e", "te7efd0581f", "t1fd854aa73", "t218a725de7", "t25ded0cd34",
               "te70f8c8ab1", "tf0f7d47ae0", "t7ba92c2ba0", "v331aeae154", "t01c80e6b94")),
    Outlet("thanh-hoa.xml", Kind.RSS, "Tin Thanh Hóa (demo Loa)",
           "Tin địa phương tỉnh Thanh Hóa.", "38",
           ("c0202", "f0059", "c0075", "c0043", "f0054", "f0058")),
    Outlet("ha-tinh.xml", Kind.RSS, "Tin Hà Tĩnh (demo Loa)",
           "Tin địa phương tỉnh Hà Tĩnh.", "42",
           ("c0248", "c0020", "c0228", "c0292", "f0030")),
    Outlet("tay-ninh.xml", Kind.RSS, "Tin Tây Ninh (demo Loa)",
           "Tin địa phương tỉnh Tây Ninh (gồm tỉnh Long An cũ).", "80",
           ("c0025", "c0259", "f0230", "c0142")),
    Outlet("mattran-tin-tuc.html", Kind.LISTING, "Tin tức Mặt trận (demo Loa)",
           "Trang danh sách tin theo bố cục mattran.org.vn.", None, (
               "f0041", "f0005", "f0302", "c0145", "c0052", "f0323", "f0199", "f0088", "c0237",
               "f0162", "f0248", "f0200", "f0238", "f0316", "f0124", "c0258", "f0299", "f0034",
               "f0144", "c0014", "c0295", "c0238", "c0223", "c0225", "c0057", "c0058")),
)


def publisher(item: dict[str, Any]) -> tuple[str, str]:
    """The publisher's name (the feed's own, else the web site) and its home page."""
    url = urlparse(item["url"])
    return (item.get("source") or url.netloc.removeprefix("www.")), f"{url.scheme}://{url.netloc}/"


def replay_order() -> list[tuple[str, str]]:
    """(outlet file, id) in replay order: outlets interleaved, each in its own order."""
    columns = [[(o.file, i) for i in o.ids] for o in OUTLETS]
    return [pair for row in zip_longest(*columns) for pair in row if pair is not None]


def rss(outlet: Outlet, items: list[dict[str, Any]], times: dict[str, datetime]) -> bytes:
    root = ET.Element("rss", version="2.0")
    channel = ET.SubElement(root, "channel")
    ET.SubElement(channel, "title").text = outlet.title
    ET.SubElement(channel, "link").text = f"https://demo.loa.invalid/{outlet.file}"
    ET.SubElement(channel, "description").text = outlet.description
    ET.SubElement(channel, "language").text = "vi"
    newest = max(times[i["id"]] for i in items)
    ET.SubElement(channel, "lastBuildDate").text = format_datetime(newest)
    for item in sorted(items, key=lambda i: times[i["id"]], reverse=True):
        node = ET.SubElement(channel, "item")
        ET.SubElement(node, "title").text = item["title"]
        ET.SubElement(node, "link").text = item["url"]
        ET.SubElement(node, "description").text = item["summary"]
        ET.SubElement(node, "pubDate").text = format_datetime(times[item["id"]])
        ET.SubElement(node, "guid", isPermaLink="true").text = item["url"]
        name, home = publisher(item)
        ET.SubElement(node, "source", url=home).text = name
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def listing(outlet: Outlet, items: list[dict[str, Any]], times: dict[str, datetime]) -> bytes:
    """A page with the markup the `mattran` preset selects (data/listing_presets.json)."""
    e = html.escape
    stories = []
    for item in sorted(items, key=lambda i: times[i["id"]], reverse=True):
        name, _ = publisher(item)
        stories.append(
            '    <article class="story">\n'
            f'      <h3 class="story__heading"><a href="{e(item["url"])}">'
            f'{e(item["title"])}</a></h3>\n'
            f'      <div class="story__summary">{e(item["summary"])}</div>\n'
            f'      <span class="story__time">{times[item["id"]]:%H:%M %d/%m/%Y}</span>\n'
            f'      <span class="story__source">Nguồn: {e(name)}</span>\n'
            "    </article>\n")
    page = ('<!DOCTYPE html>\n<html lang="vi">\n<head><meta charset="utf-8">'
            f"<title>{e(outlet.title)}</title></head>\n<body>\n<main>\n"
            f"  <h1>{e(outlet.title)}</h1>\n  <p>{e(outlet.description)}</p>\n"
            '  <div class="list-news">\n' + "".join(stories)
            + "  </div>\n</main>\n</body>\n</html>\n")
    return page.encode("utf-8")


def build(out: Path) -> list[Path]:
    """Write every demo file into `out`; the paths written."""
    by_id = {i["id"]: i for path in labelled_files() for i in load_jsonl(path)}
    order = replay_order()
    times = {item_id: START + seq * STEP for seq, (_, item_id) in enumerate(order)}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for outlet in OUTLETS:
        items = [by_id[i] for i in outlet.ids]
        too_long = [i["id"] for i in items if len(i["summary"]) > SUMMARY_MAX]
        if too_long:
            raise SystemExit(f"{outlet.file}: summaries over {SUMMARY_MAX} characters: {too_long}")
        render = rss if outlet.kind == Kind.RSS else listing
        path = out / outlet.file
        path.write_bytes(render(outlet, items, times))
        written.append(path)
    manifest = {
        "_comment": "Demo sources and replay order; regenerate with scripts/build_demo.py.",
        "start": START.isoformat(),
        "step_seconds": int(STEP.total_seconds()),
        "outlets": [{"file": o.file, "kind": str(o.kind), "title": o.title,
                     "preset": "mattran" if o.kind == Kind.LISTING else None,
                     "home_province": o.home_province} for o in OUTLETS],
        "items": [{"seq": seq, "outlet": file, "id": item_id, "url": by_id[item_id]["url"]}
                  for seq, (file, item_id) in enumerate(order)],
    }
    path = out / "demo.json"
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEMO_DIR)
    args = parser.parse_args()
    for path in build(args.out):
        print(path)


if __name__ == "__main__":
    main()
