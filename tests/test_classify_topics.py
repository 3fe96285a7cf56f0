"""Topic rules: every topic on example texts written for these tests, the exclusions, several
topics per item, and how the rules file is read."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from catalog import topics as catalog_topics
from classify import Classifier, get_classifier
from classify.evidence import EvidenceKind
from classify.textmap import prepare
from classify.topics import TopicRulesError, _evidence, load_topic_rules


def topics(title: str, summary: str = "") -> list[str]:
    return get_classifier().classify(title, summary).topics


@functools.cache
def _rules_alone() -> Classifier:
    return Classifier(learned=False)


def rule_topics(title: str, summary: str = "") -> list[str]:
    """The rules' verdict, before the topic model weighs it with the words."""
    return _rules_alone().classify(title, summary).topics


EXAMPLES = {
    "nha-dai-doan-ket": "Ủy ban MTTQ huyện bàn giao 12 căn nhà Đại đoàn kết cho hộ nghèo",
    "dai-hoi-mttq": "Xã Tự Tân làm điểm tổ chức Đại hội đại biểu MTTQ Việt Nam nhiệm kỳ 2024-2029",
    "giam-sat-phan-bien": "Đoàn đại biểu Quốc hội tiếp xúc cử tri trước kỳ họp",
    "giam-ngheo-an-sinh": "Trao 300 suất quà Tết cho hộ nghèo và gia đình chính sách",
    "thien-tai-cuu-tro": "Bão số 5 đổ bộ, hàng nghìn hộ dân phải sơ tán",
    "hoi-nghi-giao-ban": "Ủy ban MTTQ tỉnh tổ chức hội nghị giao ban công tác Mặt trận quý III",
    "dan-toc-ton-giao": "Lãnh đạo tỉnh thăm, chúc mừng Tòa Giám mục nhân dịp lễ Giáng sinh",
    "kieu-bao-doi-ngoai": "Gặp mặt kiều bào về quê ăn Tết",
    "bau-cu": "Hội nghị hiệp thương lần thứ hai lập danh sách người ứng cử đại biểu HĐND",
    "phong-chong-tham-nhung": "Khởi tố cựu chủ tịch UBND huyện về tội nhận hối lộ",
    "van-dong-phong-trao": "Tổng kết cuộc vận động Toàn dân đoàn kết xây dựng nông thôn mới,"
                           " đô thị văn minh",
    "chuyen-doi-so": "Người dân làm thủ tục trên dịch vụ công trực tuyến và kích hoạt VNeID",
    "sap-xep-bo-may": "Tỉnh hoàn thành sắp xếp đơn vị hành chính, vận hành chính quyền địa phương"
                      " 2 cấp",
}


def test_examples_cover_every_topic() -> None:
    assert set(EXAMPLES) == set(catalog_topics())


@pytest.mark.parametrize("slug", list(EXAMPLES))
def test_each_topic_has_rules_that_find_it(slug: str) -> None:
    assert slug in topics(EXAMPLES[slug])


def test_phrases_match_on_folded_text_with_or_without_marks() -> None:
    assert "nha-dai-doan-ket" in topics("Trao nha dai doan ket cho ho ngheo")
    assert "nha-dai-doan-ket" in topics("TRAO NHÀ ĐẠI ĐOÀN KẾT CHO HỘ NGHÈO")


def test_marks_keep_words_apart_in_text_written_with_them() -> None:
    assert "thien-tai-cuu-tro" not in topics(
        "Báo Thanh Niên ra số đặc biệt", "Bạn đọc mua báo sớm."
    )
    assert "thien-tai-cuu-tro" in topics("Bão mạnh đổ bộ vào đất liền")
    assert "dan-toc-ton-giao" not in topics("Công trình chưa hoàn thành", "Hồ chứa đầy nước.")


def test_exclusions() -> None:
    assert "nha-dai-doan-ket" not in topics("Mở bán 500 căn nhà ở xã hội", "Giá nhà ở xã hội tăng.")
    assert "thien-tai-cuu-tro" not in topics("Thị trường bão hòa, bão giá quét qua chợ Tết")
    assert "dai-hoi-mttq" not in topics(
        "Đại hội Đảng bộ tỉnh lần thứ XV", "Đại hội bầu Ban Chấp hành."
    )
    assert "dai-hoi-mttq" not in topics("Đại hội đồng cổ đông thường niên của công ty")
    assert "thien-tai-cuu-tro" not in topics("Hội nghị COP30 bàn về tài chính khí hậu",
                                             "Bão lũ, hạn hán ngày càng nhiều.")  # veto
    assert "phong-chong-tham-nhung" not in topics(
        "Bổ nhiệm Phó Cục trưởng Cục Cảnh sát điều tra tội phạm về tham nhũng")
    assert "bau-cu" not in topics("Cử tri Mỹ bắt đầu bỏ phiếu bầu cử tổng thống")


def test_weak_phrases_need_company() -> None:
    assert "giam-ngheo-an-sinh" not in topics("Siêu thị tặng quà cho khách hàng")
    assert "giam-ngheo-an-sinh" in topics(
        "Tặng quà cho người có hoàn cảnh khó khăn", "Mỗi phần quà 500.000 đồng"
    )


def test_combinations_must_meet_in_one_sentence() -> None:
    assert "dai-hoi-mttq" in topics("Đại hội Hội Nông dân huyện lần thứ XII diễn ra sáng nay")
    assert "dai-hoi-mttq" not in topics(
        "Thư chúc mừng Giáng sinh của Chủ tịch Ủy ban Trung ương Mặt trận Tổ quốc",
        "Các dòng tu đã tổ chức thành công Đại hội nhiệm kỳ mới.")


def test_several_topics_and_yielding() -> None:
    found = topics("Thái Bình: Lũ cuốn trôi nhà, Mặt trận vận động xây nhà Đại đoàn kết",
                   "Bão số 3 làm sập 20 căn nhà.")
    assert {"thien-tai-cuu-tro", "nha-dai-doan-ket"} <= set(found)
    # Houses "for poor households" are housing news, not poverty news...
    assert topics("Xây dựng 80 căn nhà ở cho hộ nghèo trên địa bàn tỉnh") == ["nha-dai-doan-ket"]
    # ...unless poverty has a sentence of its own.
    both = topics("Trao nhà tình nghĩa cho hộ nghèo",
                  "Toàn tỉnh còn 5.000 hộ nghèo. Tỉnh cũng trao học bổng cho 200 em.")
    assert both == ["nha-dai-doan-ket", "giam-ngheo-an-sinh"]


def test_evidence_for_every_topic() -> None:
    result = get_classifier().classify(EXAMPLES["nha-dai-doan-ket"])
    topic_evidence = [e for e in result.evidence if e.kind == "topic"]
    assert [e.label for e in topic_evidence] == ["nha-dai-doan-ket"]
    assert topic_evidence[0].text == "nhà Đại đoàn kết"
    assert topic_evidence[0].resolved.startswith('"nhà Đại đoàn kết" → nha-dai-doan-ket')


def test_rules_are_data_that_admins_extend(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[chuyen-doi-so]\nstrong = ["chữ ký số"]\n', encoding="utf-8")
    classifier = Classifier(topic_rules=load_topic_rules(rules), learned=False)
    assert classifier.classify("Doanh nghiệp dùng chữ ký số").topics == ["chuyen-doi-so"]
    assert classifier.classify("Người dân dùng VNeID").topics == []  # the file replaced them
    # With the topic model, an admin's phrase in a headline still gives its topic, whatever the
    # words say (the model may add topics of its own: VNeID is digital transformation).
    learned = Classifier(topic_rules=load_topic_rules(rules))
    result = learned.classify("Doanh nghiệp dùng chữ ký số")
    assert result.topics == ["chuyen-doi-so"] and 0 < result.scores["chuyen-doi-so"] <= 1


@pytest.mark.parametrize("content, message", [
    ('[khong-co]\nstrong = ["x"]\n', "unknown topic"),
    ('[bau-cu]\nstrong = [1]\n', "expected a phrase"),
    ('[bau-cu]\nstrang = ["bầu cử"]\n', "unknown keys"),
    ('[bau-cu]\nyield_to = ["khong-co"]\n', "yield_to unknown"),
])
def test_bad_rules_are_reported(tmp_path: Path, content: str, message: str) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(content, encoding="utf-8")
    with pytest.raises(TopicRulesError, match=message):
        load_topic_rules(rules)


# --- issue 10's settled cases -----------------------------------------------------------------


def test_poverty_words_beside_houses_or_relief_are_no_companion_topic() -> None:
    result = get_classifier().classify(
        "Bàn giao 20 căn nhà Đại đoàn kết cho hộ nghèo",
        "Ủy ban MTTQ xã trao nhà. Gia đình bà Lan, hộ nghèo của thôn 3, rất vui mừng.")
    assert result.topics == ["nha-dai-doan-ket"]
    result = get_classifier().classify(
        "Trao 500 suất quà cho hộ nghèo bị lũ cuốn trôi nhà", "Người dân vùng lũ nhận cứu trợ.")
    assert result.topics == ["thien-tai-cuu-tro"]
    # Other support that is a subject in its own right joins the houses.
    result = get_classifier().classify(
        "Bàn giao nhà Đại đoàn kết và trao học bổng cho học sinh nghèo")
    assert result.topics == ["nha-dai-doan-ket", "giam-ngheo-an-sinh"]
    # The fund as the houses' organiser, welfare in general beside relief: no companion either,
    # by the rules (the model weighs the fund's name, and may add the topic back with its score:
    # denying what the rules yield costs more than it saves on the labelled items).
    assert rule_topics("Ban Vận động Quỹ “Vì người nghèo” tỉnh xây 80 căn nhà cho hộ nghèo") == [
        "nha-dai-doan-ket"]
    assert topics("Sau lũ, tỉnh hỗ trợ người dân vùng lũ ổn định cuộc sống",
                  "Công tác an sinh xã hội được bảo đảm.") == ["thien-tai-cuu-tro"]
    # Raising money for the fund is its own subject beside relief ('Tháng cao điểm “…”').
    assert topics("Phát động Tháng cao điểm “Vì người nghèo” và ủng hộ đồng bào bị lũ") == [
        "giam-ngheo-an-sinh", "thien-tai-cuu-tro"]


@pytest.mark.parametrize("text, slug", [
    ("Hà Nội thành lập quận mới từ huyện Đông Anh", "sap-xep-bo-may"),
    ("Nhập xã Tân Lập vào xã Tân Phú từ tháng 7", "sap-xep-bo-may"),
    ("Công bố nghị quyết sáp nhập 3 xã thành xã Tân Lập", "sap-xep-bo-may"),
    ("Thị xã Sa Pa lên thành phố vào năm tới", "sap-xep-bo-may"),
    ("Trao bò giống giúp hộ nghèo thoát nghèo bền vững", "giam-ngheo-an-sinh"),
    ("Chúc mừng Giáng sinh các giáo xứ trên địa bàn", "dan-toc-ton-giao"),
    ("Đồng bào Khmer vui Tết Chôl Chnăm Thmây", "dan-toc-ton-giao"),
    ("Đại hội đại biểu MTTQ Việt Nam huyện lần thứ XII", "dai-hoi-mttq"),
    ("Đại hội XIII Công đoàn Việt Nam, nhiệm kỳ 2023 – 2028 sẽ diễn ra tại Hà Nội", "dai-hoi-mttq"),
    ("UBND tỉnh thống nhất chủ trương sáp nhập các ấp, khóm chưa đạt chuẩn", "sap-xep-bo-may"),
    ("Hội người Việt Nam tại Fukuoka trao giải cuộc thi tiếng Việt", "kieu-bao-doi-ngoai"),
    ("Ủy ban MTTQ tỉnh trao 64 nhà vượt lũ cho các hộ nghèo", "nha-dai-doan-ket"),
])
def test_known_misses_of_the_first_rules_and_dev_front_news(text: str, slug: str) -> None:
    assert slug in get_classifier().classify(text).topics


def test_a_topic_mentioned_in_passing_is_no_topic() -> None:
    clf = get_classifier()
    assert "dan-toc-ton-giao" not in clf.classify(
        "Tặng quà hộ nghèo nhân dịp Đại lễ Vu Lan").topics
    assert "dan-toc-ton-giao" in clf.classify("Đại lễ Vu Lan tại chùa Từ Đàm").topics
    # Gifts for Tết are poverty support, "nhân dịp" or not (spec: Tết gifts).
    assert "giam-ngheo-an-sinh" in clf.classify(
        "", "Ủy ban MTTQ quận trao quà cho hộ khó khăn nhân dịp Tết Nguyên đán.").topics


def test_relief_drives_and_congresses_are_no_movement_unless_one_is_named() -> None:
    clf = get_classifier()
    assert clf.classify("Phát động ủng hộ đồng bào bị thiệt hại do bão lũ").topics == [
        "thien-tai-cuu-tro"]
    assert "van-dong-phong-trao" in clf.classify(
        "Phát động thi đua chào mừng Đại hội MTTQ các cấp", "Trao bằng khen cho 20 tập thể.").topics


def test_party_congresses_of_the_front_office_are_no_front_congress() -> None:
    summary = (
        "Đảng bộ Cơ quan Ủy ban MTTQ Việt Nam tỉnh tổ chức Đại hội khóa I, nhiệm kỳ 2025-2030."
    )
    assert "dai-hoi-mttq" not in get_classifier().classify("", summary).topics


def test_typed_without_marks_a_one_syllable_phrase_is_no_evidence() -> None:
    clf = get_classifier()
    assert clf.classify("Bao chi tinh Nghe An duoc khen thuong").topics == []  # báo, not bão
    assert "thien-tai-cuu-tro" in clf.classify("Mua lu gay sat lo o Quang Tri").topics


def test_in_marked_text_a_phrase_without_marks_is_no_marked_word() -> None:
    clf = get_classifier()
    assert clf.classify("Du khách đổ về Bà Nà Hills").topics == []  # no Ba Na people
    assert clf.classify("Đồng bào Ba Na đón lễ mừng lúa mới").topics == ["dan-toc-ton-giao"]


@pytest.mark.parametrize("title, summary, expected", [
    ("Amazon cắt giảm 14.000 người ở Mỹ", "Công ty muốn tinh gọn bộ máy nhờ AI.", []),
    ("Thủ tướng Nhật giải tán Hạ viện, ấn định ngày bầu cử sớm", "", []),
    # disasters, diplomacy and officials tried for corruption happen abroad too
    ("Bão Melissa tàn phá Cuba", "Hàng chục người thiệt mạng, nhiều nơi ngập lụt.",
     ["thien-tai-cuu-tro"]),
    ("Trung Quốc xét xử cựu bí thư tỉnh ủy nhận hối lộ 60 triệu USD", "",
     ["phong-chong-tham-nhung"]),
    # Vietnam's own news about abroad keeps its topics
    ("Hà Nội học kinh nghiệm Singapore về chuyển đổi số", "Đoàn công tác làm việc về VNeID.",
     ["chuyen-doi-so"]),
    ("Việt Nam và Lào ký kết phòng, chống tham nhũng", "Hai bên trao đổi kinh nghiệm.",
     ["phong-chong-tham-nhung"]),
])
def test_foreign_news_keeps_only_the_topics_that_happen_abroad(title: str, summary: str,
                                                               expected: list[str]) -> None:
    assert get_classifier().classify(title, summary).topics == expected


def test_a_foreign_name_inside_a_longer_name_is_no_news_from_abroad() -> None:
    rules = get_classifier().topic_rules
    assert rules.abroad(prepare("Amazon cắt giảm 14.000 người ở Mỹ", ""))
    assert not rules.abroad(prepare("Bà Trương Mỹ Hoa trao học bổng", ""))
    assert not rules.abroad(prepare("Cồn Mỹ Hòa Hưng sạt lở", ""))
    assert not rules.abroad(prepare("Kỷ lục thế giới về tranh gạo", ""))


def test_a_scholarship_is_welfare_when_handed_over_not_when_won_abroad() -> None:
    assert topics("Viettel trao 90 suất học bổng tại huyện Ba Tri") == ["giam-ngheo-an-sinh"]
    assert topics("Chàng trai 10X chinh phục 12 suất học bổng ở Mỹ",
                  "Em được 12 trường đại học cấp học bổng.") == []


def test_comments_on_a_congress_draft_report_are_congress_news() -> None:
    assert topics("Góp ý vào dự thảo Báo cáo chính trị trình Đại hội đại biểu MTTQ tỉnh") \
        == ["dai-hoi-mttq"]


@pytest.mark.parametrize("title, summary, expected", [
    ("Đại hội Hội Cựu thanh niên xung phong tỉnh lần thứ III", "Nhiệm kỳ 2025 - 2030.",
     ["dai-hoi-mttq"]),
    ("Kiểm tra thực hiện quy chế dân chủ ở cơ sở tại phường", "", ["giam-sat-phan-bien"]),
    ("Lễ ra quân chiến dịch thanh niên tình nguyện hè", "", ["van-dong-phong-trao"]),
    # the spec's disasters are listed; a forest fire or a worker buried in a trench is not one
    ("Cháy rừng tràm ở xã Khánh Bình Tây", "Lực lượng chữa cháy được điều đến.", []),
    ("Nam công nhân bị đất vùi lấp dưới hố công trình", "", []),
    ("Sạt lở đất vùi lấp 4 ngôi nhà", "", ["thien-tai-cuu-tro"]),
    # the officer announcing a case is no suspect; a department's chief of staff prosecuted is
    ("Bắt băng cướp tiệm vàng",
     "Trưởng Phòng Cảnh sát hình sự cho biết đã khởi tố vụ án, bắt tạm giam 3 bị can.", []),
    ("Khởi tố Chánh Văn phòng Sở Tài nguyên và Môi trường", "Cơ quan điều tra bắt tạm giam ông C.",
     ["phong-chong-tham-nhung"]),
])
def test_fresh_news_cases(title: str, summary: str, expected: list[str]) -> None:
    assert topics(title, summary) == expected


@pytest.mark.parametrize("title, summary, expected", [
    # an event's name, a bank's e-invoices, a virtual assistant: none is e-government by itself
    ("Tuần lễ Số quốc tế thu hút 30 đoàn nước ngoài", "Doanh nghiệp kết nối, ký kết hợp tác.", []),
    ("Ngân hàng hướng dẫn tiểu thương xuất hóa đơn điện tử", "", []),
    ("Trợ lý ảo của ngân hàng trả lời khách hàng cả ngày", "", []),
    # one relief map's wording and an app platform's name: no digital transformation by themselves
    ("Người dân vùng lũ gửi tọa độ để nhận cứu trợ", "", ["thien-tai-cuu-tro"]),
    ("Chuỗi cửa hàng tiện lợi ra mắt Zalo Mini App", "", []),
    # any department of any office is no reorganisation
    ("Phòng chuyên môn của Sở Y tế kiểm tra an toàn thực phẩm", "", []),
    # a press briefing on a festival is no briefing meeting of the Front
    ("Hội nghị thông tin về Ngày hội văn hóa ẩm thực", "", []),
])
def test_phrases_that_fit_one_item_are_no_topic(title: str, summary: str,
                                                expected: list[str]) -> None:
    assert topics(title, summary) == expected


@pytest.mark.parametrize("title, expected", [
    ("Bàn giao 3 nhà “Đại đoàn kết” cho các hộ nghèo", ["nha-dai-doan-ket"]),
    ("Ủng hộ Quỹ “Vì người nghèo” năm 2025", ["giam-ngheo-an-sinh"]),
    # an exclusion holds across quotes too: the houses are paid from the fund
    ("Bàn giao nhà Đại đoàn kết, kinh phí trích từ Quỹ “Vì người nghèo”", ["nha-dai-doan-ket"]),
    ("Ban giao nha \"dai doan ket\" cho ho ngheo", ["nha-dai-doan-ket"]),
    ("Nhà, đại đoàn kết là sức mạnh", []),
])
def test_a_name_in_quotes_after_its_head_word_still_matches(title: str, expected: list[str]
                                                              ) -> None:
    assert topics(title) == expected


@pytest.mark.parametrize("text", [
    "Tặng quà NHÂN DỊP Đại lễ Vu Lan", "trong bối cảnh mới", "Trao quà cho hộ nghèo", "Nhân-dịp",
])
def test_the_scan_sees_every_passing_phrase_folded(text: str) -> None:
    # (it may see more: the scan is a quick test, the passing pattern has the last word)
    rules = get_classifier().topic_rules
    assert rules.passing_any is not None
    seen = get_classifier()._scan(prepare(text))[4]
    assert seen or not rules.passing_any.search(text.lower())
    assert seen is (text != "Trao quà cho hộ nghèo")


@pytest.mark.parametrize("title, summary, expected", [
    # a temple's or a pagoda's festival, and festivals named for a religion or a community
    ("Tưng bừng khai hội điện Hòn Chén", "Hàng vạn người về dự lễ.", ["dan-toc-ton-giao"]),
    ("Lễ hội điện ảnh châu Á khai mạc", "", []),
    ("Lễ hội pháo hoa thu hút khách", "Du khách đến chùa Linh Ứng dâng hương.", []),
    ("Khai mạc lễ hội truyền thống đình làng Đông Trì", "", ["dan-toc-ton-giao"]),
    ("Các làng Chăm vui đón Ramưwan", "", ["dan-toc-ton-giao"]),
    ("Lễ hội Đền Hùng thu hút du khách", "", []),  # a national commemoration
    # a commendation congress is emulation news, not a term congress
    ("Hội Nông dân huyện tổ chức Đại hội tuyên dương nông dân sản xuất, kinh doanh giỏi", "",
     ["van-dong-phong-trao"]),
    # leaders' dialogue with the people
    ("Chủ tịch UBND phường đối thoại với đại diện Nhân dân", "", ["giam-sat-phan-bien"]),
    ("Hội nghị đối thoại giữa Chủ tịch UBND tỉnh với doanh nghiệp", "", []),
    # support for workers hit by an accident; Tết programmes; rice between harvests
    ("Công đoàn thăm hỏi, động viên gia đình công nhân bị tai nạn lao động", "",
     ["giam-ngheo-an-sinh"]),
    ("Phường tổ chức ngày hội Tết nghĩa tình", "", ["giam-ngheo-an-sinh"]),
    ("Năm nay Tết đến sớm nên thị trường hoa sôi động", "", []),
    ("Tỉnh cấp 800 tấn gạo cứu trợ giáp hạt", "", ["giam-ngheo-an-sinh"]),
    # an agency's name is no climate talk: the veto's `not` takes it back
    ("75 ngôi nhà bị tốc mái", "Chi cục Thủy lợi và Biến đổi khí hậu thành phố cho biết.",
     ["thien-tai-cuu-tro"]),
    ("Hội thảo về biến đổi khí hậu và mưa lớn", "", []),
    # a fire's rescue and damage are the fire's; a disaster named beside a fire still is one
    ("Cứu cụ bà khỏi đám cháy nhà dân", "Lực lượng cứu hộ có mặt, thiệt hại lớn.", []),
    ("Hỗ trợ người dân bị thiệt hại do thiên tai, hỏa hoạn", "", ["thien-tai-cuu-tro"]),
    ("Giông lốc, sét đánh gây cháy nhà dân", "", ["thien-tai-cuu-tro"]),
    ("Quan hệ hai nước băng giá", "", []),
    # an ethnic community's new year is a festival, its "Tết" no gift drive
    ("Lãnh đạo huyện chúc Tết Chôl Chnăm Thmây", "Đoàn tặng quà các vị sư sãi, achar.",
     ["dan-toc-ton-giao"]),
    # ethnic groups named as a people; their names alone, typed without marks, are other words
    ("Giữ nghề truyền thống của đồng bào Vân Kiều", "", ["dan-toc-ton-giao"]),
    ("Bo Y te canh bao dich soi", "", []),
    ("Xe dang chay thi boc chay", "", []),
    # the spec's houses said the other way round
    ("Cựu chiến binh chung tay xây nhà nghĩa tình đồng đội", "", ["nha-dai-doan-ket"]),
    # the Front's and its organisations' own supervision, whatever they supervise
    ("Ủy ban MTTQ quận tổ chức Đoàn giám sát an toàn thực phẩm tại 11 cơ sở", "",
     ["giam-sat-phan-bien"]),
    ("Hội LHPN phường kiểm tra, giám sát vệ sinh tại chợ", "", ["giam-sat-phan-bien"]),
    ("Lắp camera giám sát tại các nút giao", "", []),
    # houses rebuilt after a disaster are relief; a house of the programme stays beside it
    ("Bàn giao 64 căn nhà trong Chiến dịch Quang Trung", "", ["thien-tai-cuu-tro"]),
    ("Bàn giao nhà mới cho người dân có nhà bị sập do bão", "", ["thien-tai-cuu-tro"]),
    ("Bàn giao nhà Đại đoàn kết cho hộ nghèo vùng lũ", "",
     ["nha-dai-doan-ket", "thien-tai-cuu-tro"]),
    # anti-corruption: findings sent to the police, a council's chairman disciplined
    ("Thanh tra phát hiện sai phạm, chuyển hồ sơ sang cơ quan điều tra", "",
     ["phong-chong-tham-nhung"]),
    ("Kỷ luật Chủ tịch HĐND huyện bằng hình thức cảnh cáo", "", ["phong-chong-tham-nhung"]),
    ("Kết luận 4 cuộc thanh tra phát hiện vi phạm, chuyển hồ sơ sang cơ quan điều tra", "",
     ["phong-chong-tham-nhung"]),
    ("Xe vi phạm bị chuyển hồ sơ", "", []),
    # support for another country's people is people-to-people diplomacy
    ("Hơn 30 tỷ đồng ủng hộ nhân dân Cuba", "", ["kieu-bao-doi-ngoai"]),
    # friendship exchanges with another country's people, not its defence ministry
    ("Giao lưu hữu nghị giữa MTTQ Việt Nam và Chính hiệp Trung Quốc", "", ["kieu-bao-doi-ngoai"]),
    ("Giao lưu hữu nghị quốc phòng biên giới Việt Nam - Lào", "", []),
    # the Youth Union's movements; a veterans' congress said with the association's abbreviation
    ("Tuổi trẻ tỉnh ra quân Ngày Chủ nhật xanh", "", ["van-dong-phong-trao"]),
    ("Đại hội đại biểu toàn quốc Hội CCB Việt Nam lần thứ V", "", ["dai-hoi-mttq"]),
    # a rough sea that stops the ferries is no disaster
    ("Tàu cao tốc ra Lý Sơn tạm dừng", "Do ảnh hưởng không khí lạnh, biển động, sóng to, gió "
     "lớn nên tàu tạm dừng.", []),
    ("Không khí lạnh tràn về, Hà Nội mưa nhỏ, trời chuyển mát", "", []),
    # a river in flood that sweeps boats away is still a disaster
    ("Nước sông dâng cao cuốn trôi nhiều tàu cá neo đậu", "Mưa kéo dài khiến nước sông ngập "
     "sâu, cuốn trôi 10 tàu cá.", ["thien-tai-cuu-tro"]),
    # a boat the sea sank, or its rescue, is no disaster; a storm named beside it is one
    ("Hai ngư dân mất tích khi thuyền bị sóng đánh chìm", "", []),
    ("Cứu hộ 17 thuyền viên tàu cá gặp nạn", "Trung tâm tìm kiếm cứu nạn lai dắt tàu vào bờ.",
     []),
    ("Tàu cá chìm trong bão số 3, cứu hộ 5 thuyền viên", "", ["thien-tai-cuu-tro"]),
    # tickets home for Tết given to workers
    ("Tặng 1.000 vé máy bay, vé tàu cho công nhân về quê đón Tết", "", ["giam-ngheo-an-sinh"]),
    ("Giá vé máy bay dịp Tết tăng cao", "", []),
    # sales and prices of tickets are no gift
    ("Bến xe Miền Đông mở bán vé xe Tết", "Hành khách mua vé xe về quê ăn Tết có thể đặt "
     "trực tuyến.", []),
    # readers agreeing with a proposal give nothing
    ("Nhiều bạn đọc ủng hộ đề xuất tăng mức phạt vi phạm nồng độ cồn", "", []),
    # readers helping a family in hardship
    ("Ba hoàn cảnh khó khăn được bạn đọc giúp đỡ hơn 47 triệu đồng", "",
     ["giam-ngheo-an-sinh"]),
    # a council's supervision is the state's; a battle "front" is no Front
    ("Đoàn giám sát HĐND tỉnh làm việc với Liên đoàn Lao động tỉnh", "", []),
    ("Trên mặt trận chống buôn lậu, hải quan tăng cường giám sát hàng hóa", "", []),
    # houses for poor households stay housing news beside relief, however worded
    ("Bàn giao nhà cho 12 hộ nghèo bị lũ quét cuốn trôi nhà ở", "",
     ["nha-dai-doan-ket", "thien-tai-cuu-tro"]),
    ("Hỗ trợ xây mới nhà cho 20 hộ khó khăn trước mùa mưa bão", "", ["nha-dai-doan-ket"]),
    ("Kỷ niệm 74 năm Chiến dịch Quang Trung", "", []),
    # a private business referred to the police is no corruption; a state's support no
    # people-to-people diplomacy; officials named beside a trial they attend are no suspects
    ("Cơ sở vi phạm an toàn thực phẩm bị chuyển hồ sơ vụ việc sang cơ quan công an", "", []),
    ("Việt Nam khẳng định ủng hộ nhân dân Palestine tại Liên Hợp Quốc", "", []),
    ("Chủ tịch Ủy ban Trung ương MTTQ Việt Nam tiếp đoàn Chính Hiệp tỉnh Quảng Tây", "",
     ["kieu-bao-doi-ngoai"]),
    # a People's Council's session is the council at work, no briefing
    ("HĐND huyện tổ chức kỳ họp thứ 17", "Đánh giá kết quả thực hiện nhiệm vụ năm; phương "
     "hướng, nhiệm vụ năm tới.", []),
    ("Hội nghị sơ kết 6 tháng đầu năm của Ủy ban MTTQ huyện", "", ["hoi-nghi-giao-ban"]),
    ("Ủy ban MTTQ tỉnh tổng kết công tác năm 2024", "Các luật được Quốc hội thông qua tại kỳ "
     "họp thứ 8 được phổ biến.", []),  # (vetoed: "tại kỳ họp")
    ("Hội nghị giao ban Thường trực HĐND các tỉnh", "Kinh nghiệm chuẩn bị và tổ chức kỳ họp "
     "HĐND tỉnh.", ["hoi-nghi-giao-ban"]),
    # leaders' dialogue with the households a project touches
    ("Huyện đối thoại với các hộ dân bị ảnh hưởng bởi dự án đường", "", ["giam-sat-phan-bien"]),
    # an official attacked is the victim, not a suspect
    ("Khởi tố hai thanh niên hành hung Phó Chủ tịch xã", "", []),
    ("Bắt đối tượng chống người thi hành công vụ, đánh cán bộ xã", "", []),
    ("Khởi tố nguyên Phó Chủ tịch xã nhận hối lộ", "", ["phong-chong-tham-nhung"]),
    # a former official's sentence or appeal; a public hospital's director arrested
    ("Cựu chủ tịch xã lĩnh 9 tháng tù giam vì lập hồ sơ khống", "", ["phong-chong-tham-nhung"]),
    ("Cựu Bí thư tỉnh xin giảm án tại phiên phúc thẩm", "", ["phong-chong-tham-nhung"]),
    ("Bắt tạm giam Giám đốc Bệnh viện Đa khoa tỉnh", "", ["phong-chong-tham-nhung"]),
    # the ministry's spokesman announcing a case; the Prime Minister confirming an election
    ("Chánh văn phòng Bộ Công an thông tin vụ khởi tố đường dây sản xuất hàng giả", "", []),
    ("Thủ tướng phê chuẩn kết quả bầu Chủ tịch UBND tỉnh", "", []),
    # a livelihood alone is farming news; one given to the poor is welfare
    ("Cây dừa tạo sinh kế bền vững cho nông dân", "", []),
    ("Trao mô hình sinh kế cho phụ nữ nghèo", "", ["giam-ngheo-an-sinh"]),
    ("Xóa nghèo cho đồng bào vùng cao", "", ["giam-ngheo-an-sinh"]),
    # Christmas crowds are no religion; a parish's night of prayer is
    ("Biển người đổ về trung tâm thành phố đêm Giáng sinh", "", []),
    ("Người dân xóm đạo cầu nguyện trong đêm Giáng sinh", "", ["dan-toc-ton-giao"]),
    # a hamlet named Hòa Thượng, a carer: no religion, no Cham
    ("Giám sát công trình thoát nước ở thôn Hòa Thượng", "", []),
    ("Người chăm sóc cây trồng vào vụ thu hoạch", "", []),
    # heat as a backdrop is no disaster; a heat wave with its temperatures is
    ("Chọn trang phục cho những ngày nắng nóng", "", []),
    ("Nắng nóng, mía tăng giá mạnh", "", []),
    ("Miền Bắc nắng nóng, nhiệt độ trên 39 độ C", "", ["thien-tai-cuu-tro"]),
    ("Nắng nóng gay gắt kéo dài ở Nam Bộ", "", ["thien-tai-cuu-tro"]),
    # a volcano that is a mountain; a city street flooded after rain (a voters' complaint)
    ("Tuần lễ hoa dã quỳ ở núi lửa Chư Đang Ya", "", []),
    ("Núi lửa phun trào ở Indonesia, hàng nghìn người sơ tán", "", ["thien-tai-cuu-tro"]),
    ("Dự án chống ngập úng khu đô thị chậm tiến độ", "", []),
    # drought, ice and record cold are disasters the spec lists
    ("Vườn cây mất mùa vì khô hạn kéo dài", "", ["thien-tai-cuu-tro"]),
    ("Đỉnh núi xuất hiện băng giá, trâu bò chết rét", "", ["thien-tai-cuu-tro"]),
    ("Nhiều xã vùng cao rét kỷ lục", "", ["thien-tai-cuu-tro"]),
    # the Party's discipline of officials; an inspection's findings
    ("Bộ Chính trị xem xét, thi hành kỷ luật Bí thư Tỉnh ủy", "", ["phong-chong-tham-nhung"]),
    ("Thanh tra Chính phủ chỉ ra vi phạm tại hai dự án nghìn tỷ", "", ["phong-chong-tham-nhung"]),
    ("Kết luận thanh tra về an toàn thực phẩm ở các trường mầm non", "", []),
    ("Sở Y tế kiến nghị thu hồi giấy phép của phòng khám tư", "", []),
    # the Youth Union's exam-season programme; a union's emulation month; a Mass
    ("500 đoàn viên ra quân tiếp sức mùa thi", "", ["van-dong-phong-trao"]),
    ("Công đoàn phát động tháng thi đua cao điểm", "", ["van-dong-phong-trao"]),
    ("Thánh lễ đêm mừng Chúa Giáng sinh", "", ["dan-toc-ton-giao"]),
    # a committee's plenary; the land records' database
    ("Khai mạc Hội nghị Đoàn Chủ tịch Ủy ban Trung ương MTTQ Việt Nam lần thứ hai", "",
     ["hoi-nghi-giao-ban"]),
    ("Cơ sở dữ liệu đất đai sẽ hoàn thành vào năm 2026", "", ["chuyen-doi-so"]),
    # the deputies of a constituency meet voters; sentencing law is lawmaking; an inspection's
    # recoveries sent on to the police are anti-corruption news
    ("Các đại biểu Quốc hội đơn vị bầu cử số 1 tiếp xúc cử tri 11 phường", "",
     ["giam-sat-phan-bien"]),
    ("Đề xuất bỏ án tử hình với tội tham ô tài sản, nhận hối lộ", "", []),
    ("Phát hiện vi phạm hơn 38 tỷ đồng", "Qua công tác thanh tra hành chính đã kiến nghị thu hồi "
     "38 tỷ đồng; chuyển cơ quan điều tra xử lý 1 vụ.", ["phong-chong-tham-nhung"]),
    # a scam's warning and its losses are no disaster; gifts for National Day are welfare
    ("Cảnh báo lừa đảo chiếm đoạt tài sản", "Thủ đoạn mới gây thiệt hại lớn về tài sản.", []),
    ("Xã trao quà Tết Độc lập cho người dân", "", ["giam-ngheo-an-sinh"]),
    # an island district become a special zone, a district's police abolished (not the police
    # of a special zone at work); a province's delegation visiting a neighbour's province (not
    # Lào Cai's, nor one inspecting exports)
    ("Huyện đảo Cô Tô sẽ như thế nào sau khi trở thành đặc khu?", "", ["sap-xep-bo-may"]),
    ("13 điểm thu nhận hồ sơ sau khi bỏ công an cấp huyện", "", ["sap-xep-bo-may"]),
    ("Đoàn công tác tỉnh Nghệ An thăm tỉnh Hủa Phăn (Lào)", "", ["kieu-bao-doi-ngoai"]),
    ("Huyện Anh Sơn tặng quà cụm bản Phôn Mường (Lào)", "", ["kieu-bao-doi-ngoai"]),
    ("Đoàn công tác tỉnh Lào Cai thăm và làm việc tại xã Bát Xát", "", []),
    ("Đoàn công tác tỉnh Lạng Sơn kiểm tra xuất khẩu nông sản sang Trung Quốc", "", []),
    ("Công an đặc khu Phú Quốc bắt đối tượng trộm cắp tài sản", "", []),
    ("Ủy ban Kiểm tra Trung ương đề nghị kỷ luật nguyên Bí thư Tỉnh ủy", "",
     ["phong-chong-tham-nhung"]),
])
def test_topic_families_from_new_labelled_batches(title: str, summary: str,
                                                   expected: list[str]) -> None:
    """The rule families' contract (the topic model then weighs them with the words, measured by
    bench/classify_eval.py: it gives "Hỗ trợ xây mới nhà … trước mùa mưa bão" a disaster too)."""
    assert sorted(rule_topics(title, summary)) == expected


def test_topic_evidence_shared_by_wording_keeps_its_own_text_and_label() -> None:
    first = _evidence("thien-tai-cuu-tro", "bão", '"bão" → thien-tai-cuu-tro')
    assert _evidence("thien-tai-cuu-tro", "bão", '"bão" → thien-tai-cuu-tro') is first
    other = _evidence("thien-tai-cuu-tro", "Bão", '"bão" → thien-tai-cuu-tro')
    assert (other.text, other.label, other.kind) == ("Bão", "thien-tai-cuu-tro",
                                                     EvidenceKind.TOPIC)
