"""data/topic_model.json.gz: the exported weights load without scikit-learn, cover the 13 topics,
and score an item the same way whether its features are listed or read on the fly."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from catalog import topics
from classify import get_classifier
from classify.textmap import prepare
from classify.topic_model import (
    MODEL_FILE,
    TopicModelError,
    features,
    get_topic_model,
    load_topic_model,
)


def test_the_exported_model_loads_and_has_the_13_topics() -> None:
    model = get_topic_model()
    assert model is not None
    assert sorted(model.slugs) == sorted(topics()) and len(model.slugs) == 13
    assert len(model.bias) == 13 and 0 < model.threshold < 1
    tables = [model.words, model.pairs, model.title, model.rules]
    assert all(0 <= i < 13 for table in tables for pairs in table.values() for i, _ in pairs)
    assert {signal.split(":")[0] for signal in model.rules} <= set(topics())


def test_probabilities_read_the_features_training_lists() -> None:
    model = get_topic_model()
    assert model is not None
    prep = prepare("Bàn giao nhà Đại đoàn kết cho hộ nghèo", "Ủy ban MTTQ xã trao 5 căn nhà.")
    fired = {"nha-dai-doan-ket", "nha-dai-doan-ket:title"}
    listed = features(prep.folded, prep.title_end, fired)
    z = list(model.bias)
    kinds = {"w": model.words, "b": model.pairs, "t": model.title, "RULE": model.rules}
    for feat in listed:
        kind, _, text = feat.partition(":")
        for i, w in kinds[kind].get(text, ()):
            z[i] += w
    got = model.probabilities(prep.folded, prep.title_end, fired)
    for slug, logit in zip(model.slugs, z, strict=True):
        assert got[slug] == pytest.approx(1 / (1 + 2.718281828459045 ** -logit))


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
