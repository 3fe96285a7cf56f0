"""Families of place mentions the province reader gets right, each on short sentences written for
the test (not copied from the labelled articles): what the spec's settled cases say of them, and
where the words that mark them live (data/gazetteer.context.toml)."""

from __future__ import annotations

import pytest

from classify import get_classifier


def codes(title: str, summary: str = "", feed: str | None = None) -> list[str]:
    return get_classifier().classify(title, summary, feed).provinces


# --- well-known places inside one province ----------------------------------------------------


def test_a_metro_line_named_after_landmarks_of_one_city_is_that_city() -> None:
    # Bến Thành and Suối Tiên are well-known places of TP HCM and the line lies wholly in it (the
    # spec: such places resolve to their province), unlike an expressway between two provinces.
    assert codes("Tuyến metro Bến Thành - Suối Tiên đón khách dịp Tết") == ["79"]
