#!/usr/bin/env python3
"""Regenerate data/gazetteer.json.gz from the `vietnamadminunits` package and the hand-written
variants.

    .venv/bin/pip install -e '.[gazetteer]'     # vietnamadminunits==1.0.4 (MIT), build time only
    .venv/bin/python scripts/build_gazetteer.py

The package ships a SQLite dataset of the 34 provinces and 3,321 communes in force since
1 July 2025 (`admin_units`) and of the 63 former provinces with their ~700 districts and ~10,000
communes (`admin_units_legacy`). Every name is written out with the current province it lies in
today, so the bot needs neither the package nor the network at run time.

Output: {"meta": {...}, "units": [[name, kind, type, code, district, former_province], ...],
         "block": [name, ...]}
kind: province | former_province | district | commune | former_commune | variant | landmark.
`district` and `former_province` are filled for former units, for evidence ("huyện Vũ Thư" →
former Thái Bình → 33 Hưng Yên).
"""

from __future__ import annotations

import gzip
import json
import math
import re
import sqlite3
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vntext import fold, normalize

OUT = ROOT / "data" / "gazetteer.json.gz"
VARIANTS = ROOT / "data" / "gazetteer.variants.toml"
PACKAGE_VERSION = "1.0.4"

# The dataset's keys are folded names without spaces ("huyenkyson"); these prefixes are type words.
_KEY_TYPES = ("thanhpho", "thixa", "thitran", "huyen", "quan", "phuong", "xa", "tp", "tx", "tt")
_TYPE_SUFFIX = re.compile(r" (?:thi xa|thi tran|thanh pho|huyen|quan|phuong|xa)$")
_PAREN = re.compile(r"\s*\((?:Huyện|Thị xã|Thành phố|Thị trấn|Phường|Xã|Quận)\)\s*$")


def _dataset() -> sqlite3.Connection:
    try:
        import vietnamadminunits
    except ImportError:
        sys.exit("install the build dependency first: .venv/bin/pip install -e '.[gazetteer]'")
    version = getattr(vietnamadminunits, "__version__", None)
    if version and version != PACKAGE_VERSION:
        print(f"warning: vietnamadminunits {version}, expected {PACKAGE_VERSION}", file=sys.stderr)
    db = Path(vietnamadminunits.__file__).parent / "data" / "dataset.db"
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    return conn


def _province_map() -> dict[str, str]:
    """Former province code → current code, from the package's 2025 converter table."""
    import vietnamadminunits

    conv = json.loads((Path(vietnamadminunits.__file__).parent / "data" / "converter_2025.json")
                      .read_text(encoding="utf-8"))
    conn = _dataset()
    new_by_key = {
        r["provinceKey"]: r["provinceCode"]
        for r in conn.execute("SELECT DISTINCT provinceKey, provinceCode FROM admin_units")
    }
    old_by_key = {r["provinceKey"]: r["provinceCode"]
                  for r in conn.execute(
                      "SELECT DISTINCT provinceKey, provinceCode FROM admin_units_legacy")}
    mapping = {}
    for new_key, old_keys in conv["DICT_PROVINCE"].items():
        for old_key in old_keys:
            mapping[old_by_key[old_key]] = new_by_key[new_key]
    missing = set(old_by_key.values()) - set(mapping)
    if missing:
        sys.exit(f"former provinces without a current province: {sorted(missing)}")
    return mapping


def _short(name: str | None) -> str:
    return _PAREN.sub("", normalize(name or ""))


def _type(word: str | None) -> str:
    return normalize(word or "").lower()


def _unit_type(full_name: str) -> str:
    return "thành phố" if full_name.startswith("Thành phố") else "tỉnh"


class _Splitter:
    """Splits the dataset's space-less folded aliases ("kyson") into syllables ("ky son"),
    using the syllables of all names in the dataset, most frequent first."""

    def __init__(self, names: list[str]) -> None:
        counts = Counter(s for name in names for s in fold(name).split() if s.isalpha())
        total = sum(counts.values())
        self.cost = {s: -math.log(c / total) for s, c in counts.items()}
        self.longest = max(map(len, self.cost))

    def split(self, key: str) -> str | None:
        best: list[tuple[float, list[str]] | None] = [None] * (len(key) + 1)
        best[0] = (0.0, [])
        for i in range(len(key)):
            if best[i] is None:
                continue
            cost, parts = best[i]  # type: ignore[misc]
            for j in range(i + 1, min(len(key), i + self.longest) + 1):
                syllable = key[i:j]
                if syllable in self.cost:
                    candidate = (cost + self.cost[syllable], parts + [syllable])
                    if best[j] is None or candidate[0] < best[j][0]:  # type: ignore[index]
                        best[j] = candidate
        return " ".join(best[-1][1]) if best[-1] else None


def _alias_names(raw: str | None, splitter: _Splitter, own: str) -> list[str]:
    """Former names of a unit, from the dataset's alias keys (type prefix stripped, re-spaced)."""
    if not raw:
        return []
    own_key = fold(own).replace(" ", "")
    names = []
    for key in json.loads(raw):
        if key.startswith(_KEY_TYPES):
            continue  # the typed duplicate of a bare alias
        if key == own_key or not key.isalpha() or len(key) < 4:
            continue
        spaced = splitter.split(key)
        if spaced and len(spaced.split()) >= 2 and not _TYPE_SUFFIX.search(spaced):
            names.append(spaced)
    return names


def _parts(name: str) -> list[str]:
    """"Xuân Hương - Đà Lạt" is also called "Xuân Hương"."""
    if " - " not in name:
        return []
    return [p for p in (s.strip() for s in name.split(" - ")) if len(p.split()) >= 2]


def build() -> dict:
    conn = _dataset()
    to_current = _province_map()
    legacy = conn.execute("SELECT * FROM admin_units_legacy").fetchall()
    current = conn.execute("SELECT * FROM admin_units").fetchall()
    splitter = _Splitter(
        [r["wardShort"] or "" for r in legacy]
        + [r["districtShort"] for r in legacy]
        + [r["wardShort"] for r in current]
    )

    units: list[list[str]] = []
    seen: set[tuple[str, ...]] = set()

    def add(
        name: str, kind: str, type_: str, code: str, district: str = "", former: str = ""
    ) -> None:
        name = normalize(name)
        row = (name, kind, type_, code, district, former)
        if name and row not in seen:
            seen.add(row)
            units.append(list(row))

    provinces = {r["provinceCode"]: r for r in current}
    for code, r in sorted(provinces.items()):
        add(r["provinceShort"], "province", _unit_type(r["province"]), code)

    former_provinces = {r["provinceCode"]: r for r in legacy}
    for old_code, r in sorted(former_provinces.items()):
        add(r["provinceShort"], "former_province", _unit_type(r["province"]), to_current[old_code],
            "", r["provinceShort"])

    districts = {(r["provinceCode"], r["districtCode"]): r for r in legacy}
    for (old_code, _), r in sorted(districts.items()):
        code, former = to_current[old_code], r["provinceShort"]
        type_ = _type(r["districtType"])
        short = _short(r["districtShort"])
        name = r["district"] if short[:1].isdigit() else short  # "Quận 3" keeps its type word
        add(name, "district", type_, code, "", former)
        for extra in _parts(short) + _alias_names(r["districtAlias"], splitter, short):
            add(extra, "district", type_, code, f"{_type(r['districtType'])} {short}", former)

    for r in current:
        short = _short(r["wardShort"])
        name = r["ward"] if short[:1].isdigit() else short
        type_ = _type(r["wardType"])
        add(name, "commune", type_, r["provinceCode"])
        for extra in _parts(short) + _alias_names(r["wardAlias"], splitter, short):
            add(extra, "commune", type_, r["provinceCode"], f"{type_} {short}")

    for r in legacy:
        if not r["ward"]:
            continue  # island districts without communes
        short = _short(r["wardShort"])
        name = r["ward"] if short[:1].isdigit() else short
        district = f"{_type(r['districtType'])} {_short(r['districtShort'])}"
        code, former = to_current[r["provinceCode"]], r["provinceShort"]
        add(name, "former_commune", _type(r["wardType"]), code, district, former)
        for extra in _alias_names(r["wardAlias"], splitter, short):
            add(extra, "former_commune", _type(r["wardType"]), code, district, former)

    variants = tomllib.loads(VARIANTS.read_text(encoding="utf-8"))
    for kind in ("variant", "landmark", "district"):
        for entry in variants.get(kind, []):
            if entry["province"] not in provinces:
                sys.exit(f"{VARIANTS.name}: unknown province {entry['province']!r}")
            for name in entry["names"]:
                if kind == "district":  # a district the dataset no longer holds
                    add(name, kind, entry["type"], entry["province"], "", entry["former"])
                else:
                    add(name, kind, "", entry["province"], entry.get("note", ""))
    block = sorted({normalize(n) for n in variants.get("block", {}).get("names", [])})

    return {
        "meta": {
            "source": f"vietnamadminunits {PACKAGE_VERSION} (MIT) + {VARIANTS.name}",
            "built_by": "scripts/build_gazetteer.py",
            "columns": ["name", "kind", "type", "code", "district", "former_province"],
        },
        "units": units,
        "block": block,
    }


def main() -> None:
    data = build()
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    # mtime=0 keeps the file byte-identical when nothing changed, so git sees no diff.
    OUT.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    kinds = Counter(u[1] for u in data["units"])
    print(f"wrote {OUT.relative_to(ROOT)}: {len(data['units'])} names "
          f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}), "
          f"{len(data['block'])} blocked phrases, {OUT.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
