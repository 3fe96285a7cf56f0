"""Reading places: every current province through current, former and variant names, and each
disambiguation rule, on example texts written for these tests (in the style of real news)."""

from __future__ import annotations

import random

import pytest

from catalog import provinces
from classify import Classification, get_classifier
from classify.labelled import labelled_files, load_jsonl
from classify.places import (
    _IDENTIFICATION,
    _PLURAL,
    Mention,
    PlaceReader,
    _after_plural,
    _ending,
    _ends_before,
    _words_before,
)
from classify.textmap import prepare
from vntext import fold


def classify(title: str, summary: str = "", feed: str | None = None) -> Classification:
    return get_classifier().classify(title, summary, feed)


def codes(title: str, summary: str = "", feed: str | None = None) -> list[str]:
    return classify(title, summary, feed).provinces


def chains(result: Classification) -> list[str]:
    return [e.resolved for e in result.evidence if e.kind == "province"]


# --- names ------------------------------------------------------------------------------------


def test_every_current_province_is_read_by_its_name() -> None:
    for code, province in provinces().items():
        # Bare "Hồ Chí Minh" is the president; the city is "TP Hồ Chí Minh" (tested below).
        name = f"TP {province.name}" if code == "79" else province.name
        assert codes(f"Tin mới từ {name}") == [code], name


@pytest.mark.parametrize("name, code", [
    ("Thái Bình", "33"), ("Quảng Nam", "48"), ("Yên Bái", "15"), ("Bình Dương", "79"),
    ("Bà Rịa - Vũng Tàu", "79"), ("Kon Tum", "51"), ("Hà Giang", "08"), ("Bạc Liêu", "96"),
    ("Ninh Thuận", "56"), ("Đắk Nông", "68"), ("Hậu Giang", "92"), ("Bến Tre", "86"),
    ("Long An", "80"), ("Vĩnh Phúc", "25"), ("Hải Dương", "31"), ("Bắc Kạn", "19"),
])
def test_former_provinces_resolve_to_the_current_one(name: str, code: str) -> None:
    assert codes(f"Người dân {name} chuẩn bị đón Tết") == [code]


@pytest.mark.parametrize("text, code", [
    ("Kẹt xe kéo dài ở TP.HCM chiều nay", "79"), ("Kẹt xe ở TPHCM chiều nay", "79"),
    ("Kẹt xe ở TP HCM chiều nay", "79"), ("Mưa lớn ở Sài Gòn chiều nay", "79"),
    ("Du lịch BR-VT đón khách", "79"), ("Du lịch TT-Huế đón khách", "46"),
    ("Cà phê Đăk Lăk được mùa", "66"), ("Cà phê Đắc Lắc được mùa", "66"),
    ("Nước lũ rút chậm ở phường Tuy Hòa (Phú Yên cũ)", "66"),
    ("Khách du lịch đổ về Cát Bà", "31"), ("Mưa lớn ở Phú Quốc", "91"),
    ("Tàu cao tốc ra Côn Đảo", "79"), ("Sa Pa đón mùa hoa", "15"), ("Đà Lạt se lạnh", "68"),
    ("Sân bay Vinh tạm đóng cửa", "40"), ("Thành phố Hồ Chí Minh triển khai đề án mới", "79"),
])
def test_common_variants_and_well_known_places(text: str, code: str) -> None:
    assert codes(text) == [code]


def test_former_districts_communes_and_their_evidence_chains() -> None:
    result = classify("Xây cầu mới ở huyện Vũ Thư")
    assert result.provinces == ["33"]
    assert chains(result) == ['"huyện Vũ Thư" → former Thái Bình → 33 Hưng Yên']

    result = classify("Ủy ban MTTQ tỉnh An Giang bàn giao 35 căn nhà Đại đoàn kết ở TX. Tân Châu")
    assert result.provinces == ["91"]
    assert '"TX. Tân Châu" → thị xã Tân Châu → 91 An Giang' in chains(result)

    result = classify("Nông dân xã A Sào thu hoạch lúa")  # a current commune, named with its type
    assert result.provinces == ["33"]
    assert chains(result) == ['"xã A Sào" → 33 Hưng Yên']

    result = classify(
        "Đất nền ở xã Cư Suê, huyện Cư M'gar đóng băng"
    )  # former commune and district
    assert result.provinces == ["66"]
    assert chains(result) == ['"xã Cư Suê" → former huyện Cư M\'gar → 66 Đắk Lắk',
                              '"huyện Cư M\'gar" → 66 Đắk Lắk']

    assert codes("Sạt lở ở Lập Thạch, Vĩnh Phúc") == ["25"]  # bare district, former province
    assert codes("Khai trương cửa hàng ở quận 3") == ["79"]  # numbered district carries its type


def test_every_label_has_evidence() -> None:
    result = classify("Thái Bình: Xã Tự Tân, huyện Vũ Thư làm điểm tổ chức Đại hội đại biểu MTTQ",
                      "Đoàn công tác của TP.HCM và Đà Nẵng đến dự.")
    assert set(result.provinces) == {"33", "79", "48"}
    for code in result.provinces:
        found = [e for e in result.evidence if e.kind == "province" and e.label == code]
        assert found and all(
            e.text and e.resolved.endswith(code + " " + provinces()[code].name) for e in found
        )


# --- disambiguation ---------------------------------------------------------------------------


def test_longer_phrases_block_shorter_ones() -> None:
    assert codes("Bão mạnh hình thành trên Thái Bình Dương") == []
    assert codes("Diễn đàn Hợp tác kinh tế châu Á - Thái Bình Dương khai mạc tại Hàn Quốc") == []
    assert codes("Hợp tác Ấn Độ Dương - Thái Bình Dương") == []


def test_lowercase_common_words_are_not_places() -> None:
    assert codes("Kế hoạch hòa bình cho Ukraine", "Các bên muốn hòa bình sớm trở lại") == []
    assert codes("Hòa bình là khát vọng của nhân loại") == []
    assert codes("VIỆT NAM CHUNG TAY GÌN GIỮ HOÀ BÌNH") == []  # all capitals prove nothing
    assert codes("Mưa lũ ở Hòa Bình gây sạt lở") == ["25"]
    assert codes("MƯA LŨ Ở TỈNH HÒA BÌNH") == ["25"]


def test_type_words_choose_the_level() -> None:
    # Hòa Bình is a former province, a former city in it and a district of Bạc Liêu.
    assert codes("Giới thiệu huyện Hòa Bình", "Hòa Bình là huyện được tách từ huyện Vĩnh Lợi.") == [
        "96"
    ]
    assert codes("Đường mới ở thành phố Hòa Bình") == ["25"]
    # A type word that fits no reading: the name is something else.
    assert codes("Hội chợ ở tỉnh Quảng Đông thu hút khách") == []
    # A commune name alone is weak: many are ordinary words or shared by several provinces.
    assert codes("Nông dân A Sào thu hoạch lúa") == []
    assert codes("Nông dân A Sào, Hưng Yên thu hoạch lúa") == ["33"]


def test_one_syllable_names_need_a_type_word() -> None:
    assert codes("Chủ tịch nước tiếp đoàn doanh nghiệp") == []  # "Chủ" is not thị xã Chũ
    assert codes("Hội chợ ở thị xã Chũ") == ["24"]


def test_ambiguous_names_are_settled_by_context_and_priors() -> None:
    # Châu Thành is a district in several provinces; Tân Châu in two.
    assert codes("Nông dân huyện Châu Thành thu hoạch lúa") == []
    assert codes("Nông dân huyện Châu Thành thu hoạch lúa", feed="82") == ["82"]
    assert codes("Nông dân huyện Châu Thành thu hoạch lúa", "Theo Báo Long An") == ["80"]
    assert codes("Nông dân huyện Châu Thành, tỉnh Tiền Giang thu hoạch lúa") == ["82"]
    assert codes("Huyện Tân Châu khánh thành trường mới", "Tây Ninh đầu tư 20 tỷ đồng.") == ["80"]
    # The province named next to the name settles it, not another one of the item.
    assert codes("Thăm xã Sơn Tây (Quảng Ngãi)", "Đoàn công tác từ Hà Tĩnh") == ["51", "42"]
    # A commune with a namesake today elsewhere: the district and province after it decide.
    assert codes("Ngày hội ở xã Đức Minh (huyện Đắk Mil, Đắk Nông)") == ["68"]
    # A source line is a prior, not a label.
    assert codes("Nông dân thu hoạch lúa sớm", "Theo Báo Lào Cai") == []
    # A bare district beside another province may be a commune of that province.
    assert codes("Metro kết nối Đông Anh, Ngọc Hồi và Gia Lâm", "Hà Nội khởi công tuyến mới") == [
        "01"
    ]


def test_feed_home_province_for_units_named_without_a_name() -> None:
    summary = "Ủy ban MTTQ Việt Nam tỉnh tổ chức hội nghị tổng kết công tác năm."
    assert codes("", summary, feed="38") == ["38"]
    assert codes("", summary) == []
    assert codes("", "Ngày hội Đại đoàn kết là ngày hội của toàn dân.", feed="38") == []
    assert codes("", "Các tỉnh, thành phố đã hoàn thành kế hoạch.", feed="38") == []
    assert classify("", summary, feed="38").evidence[0].resolved.endswith("→ 38 Thanh Hóa")
    # The home province is added to the places named, last.
    assert codes("", "Ủy ban MTTQ tỉnh tiếp nhận ủng hộ của TP.HCM.", feed="38") == ["79", "38"]
    # A person's name after the unit word is no place name.
    assert codes("", "Phó Chủ tịch Ủy ban MTTQ tỉnh Phan Mộng Thành dự họp.", feed="96") == ["96"]
    # News from abroad on a provincial feed is not the home's.
    assert codes("Thành phố Ấn Độ mở lễ hội lớn nhất", "Thành phố đã sẵn sàng.", feed="38") == []


def test_clubs_companies_people_and_roads_are_not_places() -> None:
    assert codes("CLB Công an Hà Nội bị phạt vì hỗn chiến") == []
    assert codes("Chuyên gia Nhật làm giám đốc CLB Công An Hà Nội") == []
    assert codes("Công an TP. Hà Nội bắt nhóm trộm xe") == ["01"]
    assert codes("Công ty Xăng dầu Quảng Nam ủng hộ 100 triệu đồng") == []
    assert codes("Tập đoàn Xây dựng Hòa Bình báo lãi") == []
    assert codes("Hãng bia Sài Gòn lãi lớn") == []
    assert codes("Ông Trương Hòa Bình trao học bổng") == []
    assert codes("Thủ thành Đặng Văn Lâm cản phá xuất sắc") == []
    assert codes("Phim tư liệu về Chủ tịch Hồ Chí Minh") == []
    assert codes("Sửa đường Hồ Chí Minh đoạn qua đèo") == []
    assert codes("Xe khách biển số Hà Nội vượt đèn đỏ") == []
    assert codes("Họp trực tuyến lúc 22h (theo giờ Hà Nội)") == []
    assert codes("Đại lý vé số thôn Phú Nhuận 3 trúng giải") == []
    assert codes("Tọa đàm tại 145 Lý Chính Thắng TPHCM") == ["79"]  # an abbreviation is no surname


def test_bylines_abroad_regions_and_sports_teams_get_nothing() -> None:
    assert codes("Người tiểu đường có nên uống cà phê?",
                 "Tôi uống 2 ly mỗi ngày, có sao không? (Trần Bình, 48 tuổi, Bình Dương)") == []
    assert codes("Hỏi về thuế nhà đất", "Xin hỏi cách tính thuế. (Minh Anh, Đồng Nai)") == []
    assert codes("Máy bay bay gần đảo Hải Nam", "Tàu sân bay neo ở Biển Đông.") == []
    assert codes("Lũ lụt ở tỉnh Hà Nam (Trung Quốc)") == []
    assert codes("Mưa lũ miền Trung, Tây Nguyên kéo dài") == []
    assert codes("Bình Định cùng Thanh Hóa vào tứ kết Cúp Quốc gia",
                 "Thủ thành tỏa sáng ở loạt luân lưu.") == []
    assert codes("Vòng loại U17 châu Á tổ chức tại Hưng Yên", "Các cầu thủ đã tập luyện.") == ["33"]
    # Written with marks, "bí thư Thành ủy" is no "thủ thành" (goalkeeper), "đã phát" no "đá
    # phạt": no sports news, the city is the place.
    assert codes("Bí thư Thành ủy TP.HCM thăm làng mai",
                 "Phó bí thư Thành ủy đã phát quà cho người dân TP.HCM.") == ["79"]


def test_ranges_nearby_and_order() -> None:
    assert set(codes("Từ Nghệ An đến Quảng Trị có mưa rất to")) == {"40", "44"}
    assert codes("Khu đô thị mới ở phía Tây Hà Nội") == ["01"]
    # Title first, the title prefix "X:" most of all.
    assert codes("Hà Tĩnh: Lũ lên nhanh", "Đoàn cứu trợ từ Nghệ An và Thanh Hóa đã đến.")[0] == "42"


@pytest.mark.parametrize("text", [
    "các xã ", "Những ", "3  ", "hai 12\n", "CÁC ", "cácc ", "các", "các" + " " * 70, "x các ",
    "12" * 40 + " ", "trong ", "xcác ", "những\n\n", "", " ", "١٢ ",
    "ba phường ", "Năm ", "xyzxyzx mười  ", "thẳng băng ", "nghiêngxx các ", "bảy\n",
    "haı ", "ſáu ", "HAİ ", "mườı ",  # what IGNORECASE matches beyond str.lower
])
def test_the_plural_test_says_what_its_pattern_says(text: str) -> None:
    for end in range(len(text) + 1):
        assert _after_plural(text, end) == (_PLURAL.search(text, 0, end) is not None)


def test_the_phrases_before_a_name_read_together_say_what_each_list_says() -> None:
    """PlaceReader._before answers five lists in one lookup, and skips the words where the last
    one ends no phrase: it finds, for each list, what `_ending` finds for that list alone; so
    does `_ends_before`, which reads the last word first, for one list."""
    reader = get_classifier().places
    lists, rules = reader._before_lists, reader.rules
    windows = []
    for phrases, _ in lists.values():  # every phrase, after other words, quoted, or alone
        for phrase in phrases:
            windows += [f"Sáng nay {phrase} ", f"“{phrase} ", f"{phrase} ", f"{phrase}"]
    for phrase in reader.rules.source | reader.rules.venue_before | reader.rules.work_before:
        windows += [f"Sáng nay {phrase} ", f"“{phrase} "]
    for path in labelled_files()[:2]:  # and the text before every word of real items
        for item in load_jsonl(path)[:300]:
            text = prepare(item.get("title"), item.get("summary")).text
            windows += [text[max(0, i - 60) : i] for i, ch in enumerate(text) if ch == " "]
            windows += [text[max(0, i - 60) : i + 1] for i, ch in enumerate(text) if ch == " "]
    windows += [" ", "", "x" * 60 + " ", "\n\n ", "Theo TP. HCM  ", "( ", "“ "]
    every = [*lists.values(), (rules.source, 3), (rules.venue_before, 2), (rules.work_before, 3)]
    for before in windows:
        for marked, said in ((True, before), (False, fold(before))):
            # Each list's `_ending`, worked out once for both checks (a million calls otherwise).
            words = _words_before(said, marked)
            ends = [(phrases, most, _ending(words, phrases, most, marked))
                    for phrases, most in every]
            expected = {name: found for name, (_, _, found) in zip(lists, ends[:len(lists)],
                                                                   strict=True)
                        if found is not None}
            assert reader._before.endings(said, marked) == expected, (said, marked)
            for phrases, most, found in ends:
                assert _ends_before(said, phrases, most, marked) == (found is not None)


def test_names_that_overlap_nothing_all_stay_in_order() -> None:
    """PlaceReader._mentions keeps every name unread by `_longest` where no blocked phrase was
    found and no two names overlap, in the order they came: `_longest` would keep them all."""
    rng = random.Random(10)
    for _ in range(3000):
        found, end = [], 0
        for _ in range(rng.randint(0, 6)):
            start = end + rng.randint(0, 3)
            end = start + rng.randint(1, 12)
            found.append(Mention(start, end, "k", start - 1, end - 1, weak=rng.random() < 0.3))
        assert PlaceReader._longest(found, []) == found


def test_the_checks_after_a_bracket_need_a_bracket() -> None:
    """PlaceReader._mark_passing skips a person's province, a company's seat and an
    identification where no "(" is in the text before the name: none of them finds one there."""
    reader = get_classifier().places
    for path in labelled_files()[:2]:
        for item in load_jsonl(path)[:300]:
            text = prepare(item.get("title"), item.get("summary")).text
            for end in range(len(text) + 1):
                before = text[max(0, end - 60) : end]
                if "(" in before:
                    continue
                m = Mention(end + 1, end + 5, "k", end, end + 4, quote_start=end, before=before)
                assert not reader._after_person(text, m, None)
                assert not reader._seat_of_organisation(before)
                assert _IDENTIFICATION.search(before) is None


def test_a_persons_province_in_brackets_follows_a_whole_title_word() -> None:
    """"Đại biểu Hoàng Ngọc Định (Hà Giang)" is a deputy's province; "xanh" ends in "anh" but is
    no title, so the bracket after the name it precedes places the news."""
    assert codes("Đại biểu Hoàng Ngọc Định (Hà Giang) đề nghị kéo dài chính sách") == []
    assert codes("Đội Mùa hè xanh Cao Bá Quát (Hà Giang) sửa đường cho bản") == ["08"]


def test_a_name_cached_by_its_wording_tells_its_readings_apart() -> None:
    """The name caches are keyed by the wording alone; each reading of one wording (another
    key, type word or place) is answered as a reader that never saw the others answers it."""
    clf = get_classifier()

    def fresh() -> PlaceReader:
        return PlaceReader(clf.gazetteer, clf.places.rules)

    reader = fresh()
    asked = [("hoa binh", "Hòa Bình"), ("binh thuan", "Hòa Bình"), ("hoa binh", "Hòa Bình")]
    for key, written in asked:
        assert reader._same_marks(key, written) == fresh()._same_marks(key, written)
    kept = [("hoa binh", "Hòa Bình", True, "Hoa Binh", typed, word, False)
            for typed, word in ((None, ""), ("province", "tỉnh"), ("district", "huyện"))]
    for args in kept + kept[::-1]:
        assert reader._kept(*args) == fresh()._kept(*args)
    places = clf.gazetteer.places["hoa binh"][:2]
    for place in [*places, *places]:
        for passing in ("", "in passing: a comparison"):
            assert reader._evidence(place, "Hòa Bình", passing, place.code) \
                == fresh()._evidence(place, "Hòa Bình", passing, place.code)
