#!/usr/bin/env python3
"""Build data/landmarks/landmarks.csv from the curated lists in data/landmarks/raw/*.tsv.

    .venv/bin/python scripts/build_landmarks.py

Each raw line: name, aliases ('|'-separated), former province names (','-separated), kind.
Former province names map to current codes through data/catalog.json, so no code is typed by
hand. An alias that is also the name of an administrative unit of another province (the
gazetteer, data/gazetteer.json.gz) is dropped, as are the aliases and rows listed in
raw/drop_aliases.txt and raw/drop_rows.txt (ordinary words, people's names, collisions found on
review); raw/keep_aliases.txt overrides a collision with a former commune. raw/verified.tsv gives
the source checked for a name. What was dropped and why goes to data/landmarks/build.log.
Written with the curator's list (see data/landmarks/NOTES.md); stdlib only.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from catalog import provinces  # noqa: E402

HERE = ROOT / "data" / "landmarks"
RAW = HERE / "raw"
GAZETTEER = ROOT / "data" / "gazetteer.json.gz"


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s.strip())


def fold(s: str) -> str:
    s = unicodedata.normalize("NFD", nfc(s).lower().replace("đ", "d"))
    s = "".join(c for c in s if unicodedata.category(c) != "Mn")
    return " ".join(s.replace("-", " ").replace("–", " ").split())


def folded_lines(name: str) -> set[str]:
    path = RAW / name
    if not path.exists():
        return set()
    return {fold(x) for x in path.read_text(encoding="utf-8").splitlines()
            if x.strip() and not x.startswith("#")}


def main() -> None:
    former: dict[str, tuple[str, str]] = {}  # folded former name → (current code, its name)
    for code, province in provinces().items():
        for _, name in (*province.former, (code, province.name)):
            former[fold(name)] = (code, nfc(name))
    drop, drop_rows, keep = (folded_lines(n) for n in
                             ("drop_aliases.txt", "drop_rows.txt", "keep_aliases.txt"))
    verified: dict[str, str] = {}
    if (RAW / "verified.tsv").exists():
        for line in (RAW / "verified.tsv").read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                name, src = line.split("\t", 1)
                verified[fold(name)] = src.strip()
    admin: dict[str, set[tuple[str, str]]] = defaultdict(set)  # folded name → (code, kind)
    for name, kind, _type, code, _district, _former in json.loads(
            gzip.decompress(GAZETTEER.read_bytes()))["units"]:
        if kind != "landmark":
            admin[fold(name)].add((code, kind))

    rows, log = [], []
    for path in sorted(RAW.glob("*.tsv")):
        if path.name == "verified.tsv":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, alias_field, formers, kind = [nfc(p) for p in line.split("\t")][:4]
            aliases = [a for a in alias_field.split("|") if a.strip()]
            # "X (something)" written first with the plain X as first alias: X is the name.
            if aliases and name.startswith(aliases[0] + " ") \
                    and not name[len(aliases[0]):].strip().startswith("-") \
                    and fold(name) not in drop_rows:
                log.append(f"swapped: {name} -> {aliases[0]}")
                name, aliases = aliases[0], [name, *aliases[1:]]
            if fold(name) in drop_rows:
                log.append(f"row dropped: {name}")
                continue
            places = [former[fold(f)] for f in formers.split(",")]
            codes = list(dict.fromkeys(code for code, _ in places))
            forms: list[str] = []
            for form in [name, *aliases]:
                key = fold(form)
                if form != name and key in drop:
                    log.append(f"alias dropped (review): {form} [{name}]")
                    continue
                hits = admin.get(key, set())
                bad = {(c, k) for c, k in hits
                       if c not in codes or k in ("province", "former_province")}
                if form != name and bad and not (
                        key in keep and all(k == "former_commune" for _, k in bad)):
                    log.append(f"alias dropped (admin collision {sorted(hits)}): {form} [{name}]")
                    continue
                if form == name and {c for c, _ in hits} - set(codes) and key not in keep:
                    log.append(f"WARNING name collides with admin {sorted(hits)}: {name}")
                if form.casefold() not in {f.casefold() for f in forms}:
                    forms.append(form)
            where = ", ".join(f"{fn} → {c} {provinces()[c].name}" for c, fn in places)
            source = verified.get(fold(name), "compiler knowledge (not web-checked)")
            rows.append([forms[0], "|".join(forms[1:]), ";".join(codes), kind,
                         f"{source}; location former {where} (catalog)"])
    with (HERE / "landmarks.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["name", "aliases", "provinces", "kind", "source"])
        writer.writerows(rows)
    (HERE / "build.log").write_text("\n".join(log) + "\n", encoding="utf-8")
    print(f"{len(rows)} rows; {len(log)} log lines")


if __name__ == "__main__":
    main()
