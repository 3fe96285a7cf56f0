"""data/topic_model.json.gz: the exported weights load without scikit-learn, cover the 13 topics,
score an item as training lists its features, and weigh the rules' verdicts as the stack says;
data/topic_holdout.jsonl holds dev items only."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog import topics
from classify import Classifier, get_classifier
from classify.labelled import NEW_PREFIX, Split, labelled_files, load_jsonl, split_of
from classify.textmap import prepare
from classify.topic_model import (
    LOGIT_CAP,
    MODEL_FILE,
    Stack,
    TopicModel,
    TopicModelError,
    features,
    get_topic_model,
    load_topic_model,
    offset,
    pack,
    unpack,
    unpack_one,
)

ROOT = Path(__file__).resolve().parents[1]
RAW = json.loads(gzip.decompress(MODEL_FILE.read_bytes()))


def test_the_exported_model_loads_and_has_the_13_topics() -> None:
    model = get_topic_model()
    assert model is not None
    assert sorted(model.slugs) == sorted(topics()) and len(model.slugs) == 13
    assert 0 < model.threshold < 1
    assert model.words and model.pairs and model.title
    assert all(" " in key for key in model.pairs) and not any(" " in k for k in model.words)
    assert all(0 <= i < 13 for weights in RAW["weights"].values() for i, _ in weights)


@given(st.lists(st.dictionaries(st.integers(0, 12), st.integers(-200_000, 200_000)),
                min_size=1, max_size=60))
def test_packed_weights_add_up_as_the_weights_do(vectors: list[dict[int, int]]) -> None:
    """Packing is linear and exact for weights of four decimals, negative ones included."""
    total = offset(13) + sum(pack(tuple((i, w / 10_000) for i, w in v.items())) for v in vectors)
    expected = [sum(v.get(i, 0) for v in vectors) / 10_000 for i in range(13)]
    assert unpack(total, 13) == pytest.approx(expected, abs=1e-9)
    assert [unpack_one(total, i) for i in range(13)] == unpack(total, 13)


ITEMS = [
    ("Bàn giao nhà Đại đoàn kết cho hộ nghèo", "Ủy ban MTTQ xã trao 5 căn nhà."),
    ("Lũ, bão: miền Trung", "Mưa lớn gây ngập; người dân sơ tán, cứu trợ khẩn cấp."),
    ("", "Hội nghị tổng kết công tác Mặt trận năm 2025 của tỉnh."),
    ("Giá vàng hôm nay tăng mạnh", ""),
    # "cháy" weighs said again only
    ("Cháy rừng ở Lào Cai", "Đám cháy lan rộng, lực lượng chữa cháy đã khống chế."),
]


@pytest.mark.parametrize(("title", "summary"), ITEMS)
def test_word_logits_read_the_features_training_lists(title: str, summary: str) -> None:
    """The classifier's reading (words and title words by set, pairs by its automaton) gives the
    sum of the file's weights of the features `features` lists: pairs never span a comma or the
    title's end, and a title word counts as a title feature only in the title."""
    model = get_topic_model()
    assert model is not None
    prep = prepare(title, summary)
    z = list(RAW["bias"])
    for feat in features(prep.folded, prep.title_end):
        for i, w in RAW["weights"].get(feat, ()):
            z[i] += w
    pairs = get_classifier()._scan(prep)[5]
    assert model.word_logits(prep.folded, prep.title_end, pairs) == pytest.approx(z, abs=1e-9)


def test_the_stack_weighs_the_rules_and_the_words() -> None:
    """A topic's probability is the stack's logistic function of the words' clipped logit and
    what the rules said; a rule's topic from the title scores higher than from the summary."""
    model = get_topic_model()
    assert model is not None
    prep = prepare("Bàn giao nhà Đại đoàn kết cho hộ nghèo", "Ủy ban MTTQ xã trao 5 căn nhà.")
    pairs = get_classifier()._scan(prep)[5]
    slug = "nha-dai-doan-ket"
    w = model.word_logits(prep.folded, prep.title_end, pairs)[model.slugs.index(slug)]
    w = max(-LOGIT_CAP, min(LOGIT_CAP, w))
    s = RAW["stack"]
    for fired, v in [(set(), s["bias"] + s["words"] * w),
                     ({slug}, s["bias"] + s["rule"] + (s["words"] + s["rule_words"]) * w),
                     ({slug, f"{slug}:title"},
                      s["bias"] + s["rule"] + s["title"] + (s["words"] + s["rule_words"]) * w)]:
        got = model.probabilities(prep.folded, prep.title_end, pairs, fired)[slug]
        assert got == pytest.approx(1 / (1 + math.exp(-v)))
    plain = model.probabilities(prep.folded, prep.title_end, pairs, {slug})[slug]
    titled = model.probabilities(prep.folded, prep.title_end, pairs, {slug, f"{slug}:title"})
    assert titled[slug] > plain


def test_the_holdout_holds_dev_items_of_the_new_batches_only() -> None:
    """The stack learns from items the rules had not seen; the test split is never among them."""
    rows = load_jsonl(ROOT / "data" / "topic_holdout.jsonl")
    new_ids = {item["id"] for path in labelled_files() if path.name.startswith(NEW_PREFIX)
               for item in load_jsonl(path)}
    assert len(rows) > 1000
    assert all(r["id"] in new_ids and split_of(r["id"], new=True) == Split.DEV for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)


def test_topic_scores_are_the_model_probabilities() -> None:
    result = get_classifier().classify("Bàn giao 20 căn nhà Đại đoàn kết cho hộ nghèo")
    assert result.topics == ["nha-dai-doan-ket"]
    assert 0.5 <= result.scores["nha-dai-doan-ket"] <= 1


def test_a_model_for_other_topics_is_refused(tmp_path: Path) -> None:
    data = json.loads(gzip.decompress(MODEL_FILE.read_bytes()))
    data["slugs"][0] = "not-a-topic"
    path = tmp_path / "model.json.gz"
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    with pytest.raises(TopicModelError):
        load_topic_model(path)
    assert load_topic_model(tmp_path / "missing.json.gz") is None


def test_a_veto_or_a_mention_in_passing_is_the_rules_last_word() -> None:
    """The model adds topics the rules missed, never one they denied: sentencing law is no
    corruption news (a veto), gifts "nhân dịp lễ Vu Lan" no religious news (in passing)."""
    classifier = get_classifier()
    title = "Đề xuất bỏ án tử hình với tội tham ô tài sản, nhận hối lộ"
    assert "phong-chong-tham-nhung:veto" in classifier.rule_signals(title)[2]
    assert "phong-chong-tham-nhung" not in classifier.classify(title).topics
    title = "Tặng quà nhân dịp lễ Vu Lan"
    assert "dan-toc-ton-giao:veto" in classifier.rule_signals(title)[2]
    assert "dan-toc-ton-giao" not in classifier.classify(title).topics


@pytest.mark.parametrize(("title", "summary", "slug"), [
    ("Kỷ luật Chủ tịch HĐND huyện bằng hình thức cảnh cáo", "", "phong-chong-tham-nhung"),
    ("", "Ủy ban MTTQ tỉnh tổ chức hội nghị giao ban. Các đoàn thể báo cáo.", "hoi-nghi-giao-ban"),
])
def test_a_topic_the_rules_found_in_the_headline_stays(title: str, summary: str,
                                                        slug: str) -> None:
    """A short item's words say little: what the rules found in its headline (the title, or the
    first sentence of an item without one) stays a label, its doubt shown in its score."""
    result = get_classifier().classify(title, summary)
    assert slug in result.topics and 0 < result.scores[slug] <= 1


def _toy_model(stack: Stack) -> TopicModel:
    """Thirteen topics; the word "lut" raises the first by 8, "nhat" lowers it by 8, "lap" raises
    it by 8 only when said twice."""
    slugs = tuple(topics())
    words = {"lut": pack(((0, 8.0),)), "nhat": pack(((0, -8.0),)), "lap": 0}
    return TopicModel(slugs, pack(tuple((i, -2.0) for i in range(13))) + offset(13), words,
                      {"lap": pack(((0, 8.0),))}, {}, {}, stack, 0.5)


@pytest.mark.parametrize(("text", "signals", "label"), [
    (" lut ", set(), True),  # the words alone
    (" nhat ", {"rule"}, False),  # the words outweigh a rule from the summary
    (" nhat ", {"rule", "rule:title"}, True),  # a rule from the headline stays
    (" lut ", {"rule:veto"}, False),  # a veto is final, however strong the words
    (" lap ", set(), False),  # a word said once weighs as "w:lap" (nothing)
    (" lap  lap lap ", set(), True),  # said again, "r:lap" counts too (once)
])
def test_the_labels_follow_the_stack_the_headline_and_the_vetoes(
        text: str, signals: set[str], label: bool) -> None:
    model = _toy_model(Stack(bias=-1.0, rule=1.0, title=0.5, many=0.0, words=1.0,
                             rule_words=0.0))
    slug = model.slugs[0]
    fired = {s.replace("rule", slug) for s in signals}
    assert (slug in model.probabilities(text, 0, set(), fired, labels_only=True)) is label


def test_a_word_said_again_counts_once_more_however_often() -> None:
    model = _toy_model(Stack(bias=0.0, rule=0.0, title=0.0, many=0.0, words=1.0, rule_words=0.0))
    assert model.word_logits(" lap ", 0, set())[0] == pytest.approx(-2.0)
    assert model.word_logits(" lap  lap lap ", 0, set())[0] == pytest.approx(6.0)
    assert model.top_words(" lap lap ", 0, set(), model.slugs[0]) == ["lap"]
    assert model.top_words(" lap ", 0, set(), model.slugs[0]) == []


def test_a_model_too_large_for_its_packed_fields_is_refused(tmp_path: Path) -> None:
    data = json.loads(gzip.decompress(MODEL_FILE.read_bytes()))
    data["weights"]["w:lut"] = [[0, 250_000.0]]
    path = tmp_path / "model.json.gz"
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    with pytest.raises(TopicModelError, match="too large"):
        load_topic_model(path)


def test_a_classifier_weighs_topics_with_the_model_it_is_given() -> None:
    """bench/classify_eval.py scores dev items with models that were not trained on them."""
    model = _toy_model(Stack(bias=-1.0, rule=1.0, title=0.5, many=0.0, words=1.0,
                             rule_words=0.0))
    slug = model.slugs[0]
    assert slug in Classifier(topic_model=model).classify("Giá vàng lụt hôm nay").topics
    assert slug not in get_classifier().classify("Giá vàng lụt hôm nay").topics
    with pytest.raises(ValueError, match="rules alone"):
        Classifier(learned=False, topic_model=model)
