"""Reading what users type: subscription phrases and province search."""

from __future__ import annotations

import tomllib

import pytest

from catalog import provinces
from classify.query import QUERY_WORDS_FILE, load_regions, parse_phrase, search_provinces
from classify.textmap import match_key
from classify.topics import get_topic_rules
from vntext import normalize

DISASTER = "thien-tai-cuu-tro"


@pytest.mark.parametrize("text", ["nhà đại đoàn kết an giang", "nha dai doan ket an giang",
                                  "Nhà Đại Đoàn Kết, An Giang", "nhà đại đoàn kết ở tỉnh An Giang"])
def test_topic_and_province_with_or_without_marks(text: str) -> None:
    parsed = parse_phrase(text)
    assert (parsed.topics, parsed.provinces, parsed.keywords) == (["nha-dai-doan-ket"], ["91"], "")
    assert {e.kind for e in parsed.evidence} == {"topic", "province"}


def test_rule_phrases_that_are_not_topic_names_stay_keywords() -> None:
    parsed = parse_phrase("xóa nhà tạm")
    assert (parsed.topics, parsed.provinces, parsed.keywords) == ([], [], "xóa nhà tạm")


@pytest.mark.parametrize("text, code", [("thai binh", "33"), ("lao cai", "15"), ("yên bái", "15"),
                                        ("sài gòn", "79"), ("tp.hcm", "79"), ("Huế", "46"),
                                        ("bà rịa - vũng tàu", "79"), ("đắk lắk", "66")])
def test_province_names_in_lowercase_and_former_names(text: str, code: str) -> None:
    parsed = parse_phrase(text)
    assert (parsed.provinces, parsed.topics, parsed.keywords) == ([code], [], "")
    assert f"→ {code} " in parsed.evidence[0].resolved


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
    assert search_provinces("Vũ Thư") == [
        ("33", "huyện Vũ Thư")
    ]  # a district, when no province fits
    assert search_provinces("sai gon")[0][0] == "79"
    assert search_provinces("xyz") == []
    assert search_provinces("  ") == []


@pytest.mark.parametrize("text", ["lũ lụt", "lu lut", "bão", "bao", "sạt lở", "sat lo",
                                  "tin lũ lụt", "Lũ Quét", "mưa lũ"])
def test_common_words_select_their_topic(text: str) -> None:
    parsed = parse_phrase(text)
    assert (parsed.topics, parsed.provinces, parsed.keywords) == ([DISASTER], [], "")


@pytest.mark.parametrize("text, keywords", [
    ("báo cáo tài chính", "báo cáo tài chính"),  # "báo" is not "bão"
    ("bao cao tai chinh", "bao cao tai chinh"),  # unmarked among other words: a keyword
    ("tai nạn", "tai nạn"),  # "tai" is not the connector "tại"
    ("tai nan", "tai nan"),
    ("tin tai nan", "tai nan"),  # "tin" only says "news"
    ("ô tô", "ô tô"),  # "ô" is not the connector "ở"
    ("o to", "o to"),
    ("xe ô tô ở Hà Nội", "xe ô tô"),
    ("o to o ha noi", "o to"),
    ("tai nan tai ha noi", "tai nan"),
    ("Tai Nạn Giao Thông", "Tai Nạn Giao Thông"),  # the user's spelling, as typed
])
def test_stop_words_never_eat_content_words(text: str, keywords: str) -> None:
    parsed = parse_phrase(text)
    assert parsed.keywords == keywords
    assert parsed.topics == []


@pytest.mark.parametrize("text, codes", [
    ("miền Trung", ("38", "40", "42", "44", "46", "48", "51", "52", "56", "66", "68")),
    ("mien trung", ("38", "40", "42", "44", "46", "48", "51", "52", "56", "66", "68")),
    ("Tây Nguyên", ("51", "52", "66", "68")),
    ("tay nguyen", ("51", "52", "66", "68")),
    ("miền Bắc", ("01", "04", "08", "11", "12", "14", "15", "19", "20", "22", "24", "25", "31",
                  "33", "37")),
    ("miền Nam", ("75", "79", "80", "82", "86", "91", "92", "96")),
    ("Đồng bằng sông Cửu Long", ("80", "82", "86", "91", "92", "96")),
    ("ĐBSCL", ("80", "82", "86", "91", "92", "96")),
    ("Tây Bắc", ("11", "12", "14", "15", "25")),
    ("Đông Nam Bộ", ("75", "79", "80")),
])
def test_regions_expand_to_current_provinces(text: str, codes: tuple[str, ...]) -> None:
    parsed = parse_phrase(text)
    assert (tuple(parsed.provinces), parsed.topics, parsed.keywords) == (codes, [], "")
    assert [typed for typed, _ in parsed.regions] == [text]
    assert parsed.evidence[0].kind == "region"


def test_region_with_topic_and_connector() -> None:
    parsed = parse_phrase("bão ở miền Trung")
    assert parsed.topics == [DISASTER] and len(parsed.provinces) == 11 and parsed.keywords == ""
    parsed = parse_phrase("bao o mien tay")
    assert parsed.topics == [DISASTER] and parsed.provinces[0] == "80"
    assert parsed.keywords == ""


def test_regions_file_covers_every_province_once_at_least() -> None:
    regions = load_regions()
    eight = ("tay-bac", "dong-bac", "dong-bang-song-hong", "bac-trung-bo", "nam-trung-bo",
             "tay-nguyen", "dong-nam-bo", "dong-bang-song-cuu-long")
    covered = {code for slug in eight for code in regions[slug].provinces}
    assert covered == set(provinces())
    for region in regions.values():
        assert region.provinces and set(region.provinces) <= set(provinces())


def test_topic_words_are_phrases_of_their_topic_in_the_rules() -> None:
    """data/query_words.toml is drawn from data/topic_rules.toml and must stay in step."""
    rules = get_topic_rules().phrases
    words = tomllib.loads(QUERY_WORDS_FILE.read_text(encoding="utf-8"))["topic_words"]
    for slug, entries in words.items():
        for word in entries:
            refs = rules.get(match_key(normalize(word)), [])
            assert any(r.slug == slug and r.role not in ("not", "veto") for r in refs), word
