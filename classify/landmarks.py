"""Well-known places that are not administrative units: national parks, mountains, islands,
beaches, tourist areas, large urban developments, institutions named after their city.

Data: data/landmarks/landmarks.csv (name, aliases '|'-separated, provinces ';'-separated current
codes, kind, source), built by scripts/build_landmarks.py from curated lists; see
data/landmarks/NOTES.md.
The gazetteer (classify/gazetteer.py) adds every name and alias as a reading of kind "landmark".
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from catalog import provinces
from classify.textmap import match_key
from vntext import normalize

LANDMARKS_FILE = Path(__file__).resolve().parents[1] / "data" / "landmarks" / "landmarks.csv"


class LandmarksError(ValueError):
    """A row of the landmarks file names an unknown province or has no name."""


@dataclass(frozen=True, slots=True)
class Landmark:
    name: str  # "Phong Nha - Kẻ Bàng"
    aliases: tuple[str, ...]  # "Phong Nha", "Vườn quốc gia Phong Nha - Kẻ Bàng"
    provinces: tuple[str, ...]  # current codes, the main one first
    kind: str  # "national park", "university"…
    source: str  # where the facts come from (a URL)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def load_landmarks(path: Path = LANDMARKS_FILE) -> list[Landmark]:
    """Every landmark of the file. Names of one syllable are dropped: as bare words they are
    too often something else ("Vinh" has its own entry in the gazetteer, with its rules)."""
    known = provinces()
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            name = normalize(row.get("name"))
            codes = tuple(c.strip() for c in (row.get("provinces") or "").split(";") if c.strip())
            if not name or not codes or any(c not in known for c in codes):
                raise LandmarksError(f"{path.name}:{line}: needs a name and current province "
                                     f"codes, got {row.get('name')!r} {row.get('provinces')!r}")
            aliases = tuple(a for a in (normalize(a) for a in (row.get("aliases") or "").split("|"))
                            if a and a != name)
            kept = tuple(n for n in (name, *aliases) if " " in match_key(n))
            if kept:
                out.append(Landmark(kept[0], kept[1:], codes, (row.get("kind") or "").strip(),
                                    (row.get("source") or "").strip()))
    return out
