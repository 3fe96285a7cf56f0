"""Evidence keeps the JSON shape that is stored with labels and printed by `bot.py classify`."""

from classify import Evidence, EvidenceKind, get_classifier


def test_json_shape_and_round_trip() -> None:
    found = get_classifier().classify("Bão số 5 đổ bộ Quảng Ninh")
    assert found.evidence
    for e in found.evidence:
        data = e.to_json()
        assert list(data) == ["kind", "label", "text", "resolved"]
        assert Evidence.from_json(data, EvidenceKind.TOPIC, "other") == e


def test_a_row_stored_with_fewer_keys_reads_as_its_label() -> None:
    old = Evidence.from_json({"text": "huyện Vũ Thư", "kind": "district"},
                             EvidenceKind.PROVINCE, "33")
    assert old == Evidence(EvidenceKind.PROVINCE, "33", "huyện Vũ Thư", "")
