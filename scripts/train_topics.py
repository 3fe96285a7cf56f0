#!/usr/bin/env python3
"""Train the topic model (classify/topic_model.py) on the dev split and export its weights.

    .venv/bin/pip install -e '.[topics]'
    .venv/bin/python scripts/train_topics.py [--check]

One logistic regression per topic (scikit-learn, liblinear, L1: sparse weights, a small file,
few lookups) on the binary features of classify.topic_model.features: folded words and word
pairs, title words, and which topics the rules gave (and whether from the title, or by two
phrases or more). Only the dev split of data/labelled/ is read (classify.labelled); the
regularisation and the threshold are chosen by 5-fold cross-validation on it, against the rules
alone. Writes data/topic_model.json.gz (features seen in at least MIN_COUNT items; weights
rounded).
--check: cross-validate and report, write nothing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from scipy.sparse import csr_matrix  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402

from catalog import topics as catalog_topics  # noqa: E402
from classify.classifier import Classifier  # noqa: E402
from classify.labelled import (  # noqa: E402
    NEW_PREFIX,
    Split,
    labelled_files,
    load_jsonl,
    load_split,
)
from classify.topic_model import MODEL_FILE, features  # noqa: E402

MIN_COUNT = 2
RULE_SCALE = 10.0
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)  # smallest first: the simplest model that does as well wins
TOLERANCE = 0.005
THRESHOLDS = (0.5, 0.4, 0.3, 0.6)  # the neutral one first
MIN_POSITIVES = 3  # fewer gold items than this: the topic follows its rules


NEW_IDS = {i["id"] for path in labelled_files() if path.name.startswith(NEW_PREFIX)
           for i in load_jsonl(path)}


def item_features(items: list[dict[str, Any]]) -> tuple[list[set[str]], list[set[str]]]:
    rules = Classifier(learned=False)
    feats, rule_topics = [], []
    for item in items:
        prep, topics, signals = rules.rule_signals(item.get("title") or "",
                                                   item.get("summary") or "")
        feats.append(features(prep.folded, prep.title_end, signals))
        rule_topics.append(set(topics))
    return feats, rule_topics


def matrix(feats: list[set[str]], vocab: dict[str, int]) -> csr_matrix:
    """Binary features; a rule's feature is worth RULE_SCALE so that the penalty on its weight is
    small: the rules are the prior, the words adjust it."""
    rows, cols, values = [], [], []
    for r, fs in enumerate(feats):
        for f in fs:
            if f in vocab:
                rows.append(r)
                cols.append(vocab[f])
                values.append(RULE_SCALE if f.startswith("RULE:") else 1.0)
    return csr_matrix((values, (rows, cols)), shape=(len(feats), len(vocab)))


def vocabulary(feats: list[set[str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for fs in feats:
        for f in fs:
            counts[f] = counts.get(f, 0) + 1
    kept = sorted(f for f, n in counts.items() if n >= MIN_COUNT or f.startswith("RULE:"))
    return {f: i for i, f in enumerate(kept)}


def fit(feats: list[set[str]], gold: list[set[str]], slugs: list[str], c: float
        ) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """Vocabulary, weights (slugs × features) and biases."""
    vocab = vocabulary(feats + [{f"RULE:{s}" for s in slugs}])
    x = matrix(feats, vocab)
    weights = np.zeros((len(slugs), len(vocab)))
    bias = np.zeros(len(slugs))
    for k, slug in enumerate(slugs):
        y = np.array([slug in g for g in gold])
        if y.sum() < MIN_POSITIVES or y.all():
            weights[k, vocab[f"RULE:{slug}"]], bias[k] = 8.0, -4.0  # the rules decide
            continue
        model = LogisticRegression(C=c, l1_ratio=1.0, solver="liblinear", max_iter=1000)
        model.fit(x, y)
        weights[k], bias[k] = model.coef_[0], model.intercept_[0]
    return vocab, weights, bias


def predict(feats: list[set[str]], vocab: dict[str, int], weights: np.ndarray,
            bias: np.ndarray) -> np.ndarray:
    z = matrix(feats, vocab) @ weights.T + bias
    return np.asarray(1 / (1 + np.exp(-z)))


def micro_f1(gold: list[set[str]], pred: list[set[str]]) -> float:
    tp = sum(len(g & p) for g, p in zip(gold, pred, strict=True))
    fp = sum(len(p - g) for g, p in zip(gold, pred, strict=True))
    fn = sum(len(g - p) for g, p in zip(gold, pred, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def cross_validate(feats: list[set[str]], gold: list[set[str]], rule_topics: list[set[str]],
                   slugs: list[str], new: list[bool]) -> tuple[float, float]:
    """The best (C, threshold) by 5-fold micro F1 on dev; prints the grid, and the F1 on the
    dev items the rules were not written from ("unseen"), a fairer comparison with the rules."""
    folds = list(KFold(5, shuffle=True, random_state=0).split(feats))
    unseen = [i for i, n in enumerate(new) if n]

    def on_unseen(pred: list[set[str]]) -> float:
        return micro_f1([gold[i] for i in unseen], [pred[i] for i in unseen])

    print(f"rules alone: topic F1 {micro_f1(gold, rule_topics):.3f} (dev, {len(feats)} items), "
          f"{on_unseen(rule_topics):.3f} (unseen dev, {len(unseen)} items)")
    results: list[tuple[float, float, float]] = []
    for c in C_GRID:
        probs = np.zeros((len(feats), len(slugs)))
        for train, held in folds:
            vocab, w, b = fit([feats[i] for i in train], [gold[i] for i in train], slugs, c)
            probs[held] = predict([feats[i] for i in held], vocab, w, b)
        for t in THRESHOLDS:
            pred = [{s for s, p in zip(slugs, row, strict=True) if p >= t} for row in probs]
            f1 = micro_f1(gold, pred)
            print(f"C={c:<4} threshold={t}: topic F1 {f1:.3f} (5-fold, dev), "
                  f"{on_unseen(pred):.3f} (unseen dev)")
            results.append((f1, c, t))
    top = max(f1 for f1, _, _ in results)
    f1, c, t = next(r for r in results if r[0] >= top - TOLERANCE)
    print(f"chosen: C={c} threshold={t} (F1 {f1:.3f}; the best was {top:.3f})")
    return c, t


def export(vocab: dict[str, int], weights: np.ndarray, bias: np.ndarray, slugs: list[str],
           threshold: float, path: Path = MODEL_FILE) -> None:
    sparse: dict[str, list[list[float]]] = {}
    for feat, j in vocab.items():
        scale = RULE_SCALE if feat.startswith("RULE:") else 1.0  # as `matrix` gave it
        pairs = [[k, round(float(weights[k, j]) * scale, 4)] for k in range(len(slugs))
                 if abs(weights[k, j]) >= 1e-3]
        if pairs:
            sparse[feat] = pairs
    data = {"slugs": slugs, "bias": [round(float(b), 4) for b in bias], "threshold": threshold,
            "weights": sparse}
    raw = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(gzip.compress(raw, mtime=0))
    print(f"{path.relative_to(ROOT)}: {len(sparse)} features, {path.stat().st_size:,} bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="cross-validate only")
    args = parser.parse_args()
    items = load_split(Split.DEV)  # never the test split
    new = [i["id"] in NEW_IDS for i in items]
    slugs = list(catalog_topics())
    feats, rule_topics = item_features(items)
    gold = [set(i.get("topics") or []) for i in items]
    c, threshold = cross_validate(feats, gold, rule_topics, slugs, new)
    if not args.check:
        vocab, weights, bias = fit(feats, gold, slugs, c)
        export(vocab, weights, bias, slugs, threshold)


if __name__ == "__main__":
    main()
