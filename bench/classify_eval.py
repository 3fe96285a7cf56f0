#!/usr/bin/env python3
"""Quality and speed of the classifier.

    .venv/bin/python bench/classify_eval.py [FILE.jsonl ...] [--errors N]

Quality: micro precision, recall and F1 over (item, label) pairs, for provinces and topics, on
every labelled JSON Lines file given (default: every *.jsonl in ../shared/eval/), per file and
combined, with a per-label table and the list of errors.
Speed: title-plus-summary items per second on one core (the labelled items and, when present, the
raw news in ../shared/data/news/, repeated to 20,000 items; the best of three rounds).
Load: time and memory to load the gazetteer, the rules and the automaton, in a fresh process.

The last two lines read:
gazetteer: load_s=<s> mem_mb=<m>
classify: province_f1=<f> topic_f1=<f> items_per_s=<n>
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
SPEED_ITEMS = 20_000


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def raw_news() -> list[dict]:
    items = []
    for path in sorted((SHARED / "data" / "news").glob("*")):
        if path.suffix == ".json":
            items += json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".jsonl":
            items += load_jsonl(path)
    return [{"title": i.get("title") or "", "summary": i.get("summary") or ""} for i in items]


class Score:
    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0
        self.per_label: dict[str, Counter] = {}

    def add(self, gold: set[str], pred: set[str]) -> None:
        for label in gold | pred:
            c = self.per_label.setdefault(label, Counter())
            if label in gold and label in pred:
                self.tp += 1
                c["tp"] += 1
            elif label in pred:
                self.fp += 1
                c["fp"] += 1
            else:
                self.fn += 1
                c["fn"] += 1

    @staticmethod
    def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    def line(self) -> str:
        p, r, f = self.prf(self.tp, self.fp, self.fn)
        return f"P={p:.3f} R={r:.3f} F1={f:.3f} (tp={self.tp} fp={self.fp} fn={self.fn})"

    @property
    def f1(self) -> float:
        return self.prf(self.tp, self.fp, self.fn)[2]


def evaluate(files: list[Path], show_errors: int) -> tuple[float, float]:
    from classify import get_classifier

    clf = get_classifier()
    total = {"provinces": Score(), "topics": Score()}
    errors = []
    for path in files:
        scores = {"provinces": Score(), "topics": Score()}
        for item in load_jsonl(path):
            result = clf.classify(item.get("title") or "", item.get("summary") or "",
                                  item.get("feed_province"))
            pred = {"provinces": set(result.provinces), "topics": set(result.topics)}
            for kind in scores:
                gold = set(item.get(kind) or [])
                scores[kind].add(gold, pred[kind])
                total[kind].add(gold, pred[kind])
                if gold != pred[kind]:
                    errors.append((path.name, item, kind, gold, pred[kind], result.evidence))
        print(f"{path.name}: provinces {scores['provinces'].line()}")
        print(f"{' ' * len(path.name)}  topics    {scores['topics'].line()}")
    if len(files) > 1:
        print(f"combined: provinces {total['provinces'].line()}")
        print(f"          topics    {total['topics'].line()}")
    for kind, score in total.items():
        print(f"\nper label ({kind}):   label                     P      R      F1    tp  fp  fn")
        for label, c in sorted(score.per_label.items()):
            p, r, f = Score.prf(c["tp"], c["fp"], c["fn"])
            print(f"  {label:<34} {p:6.3f} {r:6.3f} {f:6.3f} {c['tp']:4d}{c['fp']:4d}{c['fn']:4d}")
    print(f"\nerrors ({len(errors)}, showing {min(len(errors), show_errors)}):")
    for name, item, kind, gold, pred, evidence in errors[:show_errors]:
        missing, extra = sorted(gold - pred), sorted(pred - gold)
        print(f"- {name} {item.get('id')} {kind}: missing {missing} extra {extra}")
        print(f"    {item.get('title', '')[:110]} | {item.get('summary', '')[:160]}")
        for e in evidence:
            if e["label"] in extra:
                print(f"    evidence: {e['resolved']}")
    return total["provinces"].f1, total["topics"].f1


def speed(files: list[Path]) -> float:
    from classify import get_classifier

    clf = get_classifier()
    corpus = [i for path in files for i in load_jsonl(path)] + raw_news()
    if not corpus:
        corpus = [{"title": "Ủy ban MTTQ tỉnh An Giang bàn giao 35 căn nhà Đại đoàn kết ở TX. Tân Châu",
                   "summary": "Sáng 12/3, tại xã Tân An, lãnh đạo tỉnh trao nhà cho hộ nghèo."}]
    items = (corpus * (SPEED_ITEMS // len(corpus) + 1))[:SPEED_ITEMS]
    for item in corpus[:200]:
        clf.classify(item["title"], item["summary"])  # warm-up
    # Three rounds; the fastest is the one least disturbed by other processes (as timeit does).
    rates = []
    for _ in range(3):
        start = time.process_time()
        for item in items:
            clf.classify(item["title"] or "", item["summary"] or "", item.get("feed_province"))
        rates.append(len(items) / (time.process_time() - start))
    print(f"\nspeed: {len(items)} items ({len(corpus)} distinct, title + summary), three rounds "
          f"on one core: {', '.join(f'{r:,.0f}' for r in rates)} items/s (CPU time)")
    return max(rates)


def measure_load() -> None:
    """Run in a fresh process: time and memory to load everything the classifier needs."""
    import tracemalloc

    def rss_mb() -> float:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * 4096 / 2**20

    import ahocorasick

    import catalog
    import vntext

    catalog.provinces()
    rss0 = rss_mb()
    tracemalloc.start()
    start = time.perf_counter()
    from classify import Classifier

    Classifier()
    elapsed = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    print(json.dumps({"load_s": elapsed, "traced_mb": traced, "rss_mb": rss_mb() - rss0}))


def load_figures() -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure-load"], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    # tracemalloc slows loading down, so time it again without.
    out = subprocess.run([sys.executable, "-c", "import time, sys; sys.path.insert(0, '.');"
                          "import ahocorasick, catalog, vntext; catalog.provinces();"
                          "t = time.perf_counter(); from classify import Classifier; Classifier();"
                          "print(time.perf_counter() - t)"],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    figures["load_s"] = float(out.stdout.strip())
    print(f"\nload: {figures['load_s']:.3f} s; memory {figures['traced_mb']:.1f} MB allocated "
          f"(tracemalloc), {figures['rss_mb']:.1f} MB resident growth")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--errors", type=int, default=60, help="how many errors to list")
    parser.add_argument("--measure-load", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_load:
        measure_load()
        return
    files = args.files or sorted((SHARED / "eval").glob("*.jsonl"))
    command = " ".join(["python", "bench/classify_eval.py", *map(str, args.files)])
    print(f"command: {command}")
    if files:
        province_f1, topic_f1 = evaluate(files, args.errors)
    else:
        print(f"no labelled files (looked in {SHARED / 'eval'}): quality not measured")
        province_f1 = topic_f1 = float("nan")
    items_per_s = speed(files)
    figures = load_figures()
    print(f"gazetteer: load_s={figures['load_s']:.3f} "
          f"mem_mb={max(figures['traced_mb'], figures['rss_mb']):.1f}")
    print(f"classify: province_f1={province_f1:.3f} topic_f1={topic_f1:.3f} "
          f"items_per_s={items_per_s:.0f}")


if __name__ == "__main__":
    main()
