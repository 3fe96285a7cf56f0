"""The gazetteer data file: complete, consistent, and what the build script makes."""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest

from catalog import provinces
from classify.gazetteer import GAZETTEER_FILE, get_gazetteer


def units() -> list[list[str]]:
    return json.loads(gzip.decompress(GAZETTEER_FILE.read_bytes()))["units"]


def test_holds_every_level_with_current_codes() -> None:
    rows = units()
    kinds = Counter(row[1] for row in rows)
    assert kinds["province"] == 34
    assert kinds["former_province"] == 63
    assert kinds["district"] >= 690  # ~700 former districts, towns and cities
    assert kinds["commune"] >= 3300  # every current commune and ward
    assert {row[3] for row in rows} <= set(provinces())
    assert {row[0] for row in rows if row[1] == "province"} == {
        p.name for p in provinces().values()
    }
    types = {row[2] for row in rows if row[1] in ("district", "commune")}
    assert {"huyện", "quận", "thị xã", "thành phố", "xã", "phường", "đặc khu"} <= types


def test_names_resolve_to_current_provinces() -> None:
    gaz = get_gazetteer()
    assert {p.code for p in gaz.lookup("Vũ Thư") if p.kind == "district"} == {"33"}
    assert {p.code for p in gaz.lookup("Yên Bái") if p.kind == "former_province"} == {"15"}
    assert {p.code for p in gaz.lookup("TP.HCM")} == {"79"}
    assert len({p.code for p in gaz.lookup("Châu Thành") if p.kind == "district"}) >= 5
    assert "thai binh duong" in gaz.blocked


def test_committed_file_is_what_the_build_script_makes() -> None:
    pytest.importorskip("vietnamadminunits")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import build_gazetteer

    committed = json.loads(gzip.decompress(GAZETTEER_FILE.read_bytes()))
    assert build_gazetteer.build() == committed
