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


# --- "cửa ngõ X": the gateway of X --------------------------------------------------------------


@pytest.mark.parametrize("title, summary, expected", [
    # "ngõ" alone is an alley (a road named after a place: no label); "cửa ngõ" is the gateway of
    # the place, near it, which the spec labels as it labels "phía đông Hà Nội".
    ("Quả đồi nứt trên con đèo cửa ngõ Đà Lạt", "Chính quyền cấm xe qua đèo.", ["68"]),
    ("Ùn tắc kéo dài ở cửa ngõ Hà Nội", "Người dân trở lại sau kỳ nghỉ lễ.", ["01"]),
    ("Giao thông cửa ngõ phía tây TP HCM thông thoáng", "", ["79"]),
    ("Ùn tắc sau kỳ nghỉ lễ", "Các tuyến đường cửa ngõ Hà Nội đông xe từ chiều qua.", ["01"]),
])
def test_the_gateway_of_a_place_is_that_place(title: str, summary: str,
                                              expected: list[str]) -> None:
    assert codes(title, summary) == expected


def test_a_name_after_an_alley_word_is_still_no_place() -> None:
    assert codes("Sửa mái nhà trong ngõ Hà Nội cũ", "Người dân góp tiền sửa nhà.") == []


# --- "trên sân X": a team's home ground ---------------------------------------------------------


@pytest.mark.parametrize("title, summary", [
    ("Đội khách thắng trên sân Thanh Hóa", "Tiền đạo ghi bàn phút cuối ở vòng 5 V-League."),
    ("Chiến thắng quý giá trên sân Hà Tĩnh", "Đội bóng giữ vững vị trí ở V-League."),
    ("Đội khách thua trên sân nhà Nghệ An", ""),
])
def test_a_province_named_as_a_teams_home_ground_is_a_clubs_name(title: str,
                                                                  summary: str) -> None:
    # The ground of the club named after the province: the spec gives a club no province.
    assert codes(title, summary) == []


def test_a_home_ground_is_no_label_beside_the_place_of_the_news() -> None:
    assert codes("Cổ động viên Đà Nẵng đón đội nhà", "Đội vừa thắng trên sân Thanh Hóa.") == ["48"]


def test_a_stadium_named_as_such_stays_a_venue() -> None:
    assert codes("Hải Phòng thắng đậm trên sân Lạch Tray", "") == ["31"]


# --- nicknames: "Đà Lạt thứ hai", "Hạ Long thu nhỏ" ---------------------------------------------


@pytest.mark.parametrize("title, summary, expected", [
    ("Măng Đen hút khách mùa đông", "Vùng đất được ví là Đà Lạt thứ hai ở tỉnh Quảng Ngãi.",
     ["51"]),
    ("Đảo nhỏ giữa hồ Thác Bà", "Du khách gọi nơi đây là Hạ Long thu nhỏ của tỉnh Lào Cai.",
     ["15"]),
    ("Về Tam Cốc ngắm lúa chín", "Nơi được mệnh danh là Hạ Long trên cạn.", ["37"]),
    # a nickname alone is a comparison, no place of the news
    ("Thị trấn mù sương được gọi là Sa Pa thứ 2", "", []),
])
def test_another_places_nickname_is_a_comparison(title: str, summary: str,
                                                  expected: list[str]) -> None:
    assert codes(title, summary) == expected


def test_the_weekday_after_a_name_is_no_nickname() -> None:
    assert codes("Hà Nội thứ Hai tuần sau có mưa rét", "") == ["01"]


# --- a vehicle's route after its plate number -------------------------------------------------


@pytest.mark.parametrize("title, summary, expected", [
    ("Xe khách lật trên đèo ở Sơn La",
     "Xe khách BKS 29B-123.45 chạy tuyến Hà Nội – Lào Cai bị lật tại xã Chiềng Hắc.", ["14"]),
    ("Tai nạn trên quốc lộ ở Phú Yên",
     "Xe khách biển số 18N-2188 từ Bà Rịa-Vũng Tàu đi Nam Định lao xuống rãnh.", ["66"]),
    ("Xe tải lật trong đêm ở Sơn La",
     "Xe tải biển kiểm soát 27B 001.09, lưu thông từ Hà Nội lên Điện Biên thì bị lật.", ["14"]),
])
def test_a_vehicles_route_is_no_label_beside_where_it_happened(title: str, summary: str,
                                                                 expected: list[str]) -> None:
    assert codes(title, summary) == expected


def test_a_route_is_a_label_when_it_is_the_only_place() -> None:
    assert codes("Xe khách bốc cháy", "Xe khách BKS 29B-123.45 chạy tuyến Hà Nội bốc cháy.") \
        == ["01"]


def test_without_a_plate_number_the_ends_of_a_trip_stay_places() -> None:
    assert codes("Đoàn cứu trợ từ Hà Nội đến Huế", "Xe chở hàng lên đường sáng nay.") \
        == ["01", "46"]


def test_the_place_a_vehicle_reached_stays_the_place_of_the_news() -> None:
    # the route (from Hà Nội) is passing; "về đến xã …" is where it happened, no route end
    assert codes("Xe tải lật", "Xe tải biển số 27B-001.09 từ Hà Nội về đến xã Mông Hóa thì lật.") \
        == ["25"]


# --- a commune whose name several provinces' communes bear --------------------------------------


def test_a_commune_name_of_several_provinces_with_nothing_to_settle_it_is_no_label() -> None:
    # Communes named Nam Giang (today's in Đà Nẵng, former ones in Nghệ An, Thanh Hóa, Ninh Bình):
    # the text does not say which, and a wrong province is a push to the wrong subscribers.
    assert codes("Hai cụ bà ngộ độc khí than",
                 "Hai cụ bà ở xã Nam Giang nhập viện sau một đêm sưởi than.") == []


@pytest.mark.parametrize("summary, feed", [
    ("Hai cụ bà ở xã Nam Giang, tỉnh Nghệ An nhập viện.", None),  # the province named next to it
    ("Hai cụ bà ở xã Nam Giang nhập viện sau một đêm sưởi than.", "40"),  # the feed's home
])
def test_the_item_or_its_feed_settles_which_commune(summary: str, feed: str | None) -> None:
    assert codes("Hai cụ bà ngộ độc khí than", summary, feed) == ["40"]


def test_a_commune_name_of_one_province_is_still_its_province() -> None:
    assert codes("Xã Tam Giang Tây trao quà cho hộ nghèo") == ["96"]
