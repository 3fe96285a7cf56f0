"""Reading what users type: subscription phrases and province search."""

from __future__ import annotations

import pytest

from classify.query import parse_phrase, search_provinces


@pytest.mark.parametrize("text", ["nhà đại đoàn kết an giang", "nha dai doan ket an giang",
                                  "Nhà Đại Đoàn Kết, An Giang", "nhà đại đoàn kết ở tỉnh An Giang"])
def test_topic_and_province_with_or_without_marks(text: str) -> None:
    parsed = parse_phrase(text)
    assert (parsed.topics, parsed.provinces, parsed.keywords) == (["nha-dai-doan-ket"], ["91"], "")
    assert {e["kind"] for e in parsed.evidence} == {"topic", "province"}


def test_rule_phrases_that_are_not_topic_names_stay_keywords() -> None:
    parsed = parse_phrase("xóa nhà tạm")
    assert (parsed.topics, parsed.provinces, parsed.keywords) == ([], [], "xóa nhà tạm")


@pytest.mark.parametrize("text, code", [("thai binh", "33"), ("lao cai", "15"), ("yên bái", "15"),
                                        ("sài gòn", "79"), ("tp.hcm", "79"), ("Huế", "46"),
                                        ("bà rịa - vũng tàu", "79"), ("đắk lắk", "66")])
def test_province_names_in_lowercase_and_former_names(text: str, code: str) -> None:
    parsed = parse_phrase(text)
    assert (parsed.provinces, parsed.topics, parsed.keywords) == ([code], [], "")
    assert f"→ {code} " in parsed.evidence[0]["resolved"]


def test_leftover_words_are_keywords() -> None:
    parsed = parse_phrase("tham nhũng đất đai TP.HCM")
    assert parsed.topics == ["phong-chong-tham-nhung"]
    assert parsed.provinces == ["79"]
    assert parsed.keywords == "đất đai"
    assert parse_phrase("bia hà nội").keywords == "bia hà nội"  # a brand, not the city
    assert parse_phrase("").keywords == ""


def test_search_provinces_for_onboarding() -> None:
    assert search_provinces("Thái Bình") == [("33", "Thái Bình")]  # former name → Hưng Yên
    assert search_provinces("hung yen")[0] == ("33", "Hưng Yên")
    codes = [code for code, _ in search_provinces("thai")]
    assert set(codes) == {"19", "33"}  # Thái Nguyên, Thái Bình
    assert search_provinces("Vũ Thư") == [("33", "huyện Vũ Thư")]  # a district, when no province fits
    assert search_provinces("sai gon")[0][0] == "79"
    assert search_provinces("xyz") == []
    assert search_provinces("  ") == []
