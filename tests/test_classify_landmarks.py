"""data/landmarks.csv: well-formed, current province codes, no ordinary words as names."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog import provinces
from classify.landmarks import LandmarksError, load_landmarks
from classify.textmap import match_key


def test_every_landmark_has_current_codes_a_source_and_a_name_of_two_words_or_more() -> None:
    landmarks = load_landmarks()
    assert len(landmarks) >= 50
    for landmark in landmarks:
        assert landmark.provinces and set(landmark.provinces) <= set(provinces())
        assert landmark.source and landmark.kind
        assert all(" " in match_key(n) for n in landmark.names), landmark


def test_a_bad_row_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "landmarks.csv"
    path.write_text("name,aliases,provinces,kind,source\nPhong Nha,,15;99,park,x\n",
                    encoding="utf-8")
    with pytest.raises(LandmarksError, match="landmarks.csv:2"):
        load_landmarks(path)


def test_one_syllable_names_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "landmarks.csv"
    path.write_text("name,aliases,provinces,kind,source\nChợ,Chợ Lớn,79,market,x\n",
                    encoding="utf-8")
    assert [lm.names for lm in load_landmarks(path)] == [("Chợ Lớn",)]


def test_no_name_means_two_different_places() -> None:
    """The same name (diacritics kept) on two rows must lie in the same provinces."""
    seen: dict[str, tuple[str, ...]] = {}  # name → its provinces, sorted
    for landmark in load_landmarks():
        for name in landmark.names:
            codes = tuple(sorted(landmark.provinces))
            assert seen.setdefault(name.casefold(), codes) == codes, name
