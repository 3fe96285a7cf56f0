#!/usr/bin/env python3
"""Regenerate data/topic_holdout.jsonl: what the topic rules said of labelled dev items before
any rule was written from them.

    .venv/bin/python scripts/topic_holdout.py

The topic model's second stage (scripts/train_topics.py) learns how far to trust the rules. On
dev today the rules' verdicts look near-perfect, because the rules were written from those
items; on news they have never seen they are not. Each labelled batch was measured before any
rule was written from it, so the rules of that moment are an honest reader of it: this script
checks out each such commit in a temporary git worktree (the repository's history is needed),
runs its rules (`Classifier(learned=False).rule_signals`) on the batch's items as labelled today,
and writes the signals of the dev items (never the test split's) with the commit they came from.

A new batch joins by a line in BEFORE, with the commit it was imported on top of, before rules
are written from it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from classify.labelled import LABELLED_DIR, Split, split_of  # noqa: E402

OUT = ROOT / "data" / "topic_holdout.jsonl"
# The commit each group of batches was imported on top of: its rules had seen none of them.
BEFORE: dict[str, tuple[str, ...]] = {
    "5995799996d7": ("news_p", "news_q", "news_r", "news_s", "news_t"),
    "ed3c805593bf": ("news_u", "news_v", "news_w", "news_x", "news_y", "news_za", "news_zb",
                     "news_zc", "news_zd", "news_ze", "news_zf", "news_zg"),
    "7a8b632c960b": ("news_zh", "news_zi", "news_zj", "news_zk", "news_zl", "news_zm", "news_zn",
                     "news_zo", "news_zp"),
    "900855322c32": ("news_zq", "news_zr", "news_zs", "news_zt", "news_zu"),
    "b72886aa02f4": ("news_zv", "news_zw", "news_zx"),
    "127529891c4d": ("news_zy", "news_zz", "news_zza", "news_zzb", "news_zzc", "news_zzd",
                     "news_zze", "news_zzf", "news_zzg"),
    "f0ff9951b395": ("news_zzh", "news_zzi", "news_zzj", "news_zzk", "news_zzl", "news_zzm",
                     "news_zzn"),
}
# Run inside the old worktree (its `classify` is the one imported): one JSON line per item.
READER = """
import json, sys
from classify import Classifier
rules = Classifier(learned=False)
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8"):
        if line.strip():
            item = json.loads(line)
            _, _, signals = rules.rule_signals(item.get("title") or "", item.get("summary") or "")
            print(json.dumps({"id": item["id"], "signals": sorted(signals)}, ensure_ascii=False))
"""


def signals_at(commit: str, files: list[Path]) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(tree),
                        commit], check=True)
        try:
            env = {**os.environ, "LOA_PURE_PYTHON": "1"}
            out = subprocess.run([sys.executable, "-c", READER, *map(str, files)], cwd=tree,
                                 env=env, check=True, capture_output=True, text=True).stdout
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           check=True)
    return [{**json.loads(line), "before": commit} for line in out.splitlines()]


def main() -> None:
    rows = []
    for commit, batches in BEFORE.items():
        files = [LABELLED_DIR / f"{batch}.jsonl" for batch in batches]
        rows += [r for r in signals_at(commit, files)
                 if split_of(str(r["id"]), new=True) == Split.DEV]
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                   encoding="utf-8")
    print(f"{OUT.relative_to(ROOT)}: {len(rows)} dev items from {len(BEFORE)} commits")


if __name__ == "__main__":
    main()
