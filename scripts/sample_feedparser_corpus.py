"""Regenerate tests/fixtures/feedparser_corpus/: a sample of feedparser's own test feeds.

feedparser (https://github.com/kurtmckee/feedparser, BSD-2-Clause) keeps about 2,100 small feeds
under tests/: ill-formed XML, every encoding trick, HTML and XML entities, RSS 0.9x/1.0/2.0, Atom
0.3/1.0, RDF, CDF, namespaces, and HTML to sanitise. Loa's hostile-input test
(tests/test_feedparser_corpus.py) reads each sampled file with `sources test`. Only data files are
copied, never feedparser's code; its LICENSE goes with them.

The sample is deterministic: every file of the small, hostile groups (ill-formed, RDF, XML
oddities), evenly spaced files (by sorted name, so every theme of a group is hit) of the large
ones, and the largest file of the corpus.

    git clone https://github.com/kurtmckee/feedparser /tmp/feedparser
    python scripts/sample_feedparser_corpus.py /tmp/feedparser
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "feedparser_corpus"
DATA_SUFFIXES = {".xml", ".json", ".rdf", ".rss", ".atom"}
MAX_FILE_BYTES = 200_000

# Group (a folder under feedparser's tests/, its files only, not its subfolders) → how many files
# to take; None takes them all.
QUOTAS: dict[str, int | None] = {
    "illformed": None, "illformed/chardet": None, "illformed/geo": None,
    "encoding": 40, "entities": 30, "json": None,
    "wellformed/rss": 30, "wellformed/atom10": 25, "wellformed/atom": 15,
    "wellformed/rdf": None, "wellformed/cdf": 5, "wellformed/amp": 10, "wellformed/base": 8,
    "wellformed/lang": 6, "wellformed/namespace": 6, "wellformed/itunes": 5,
    "wellformed/media-rss": 4, "wellformed/geo": 3, "wellformed/psc": 2, "wellformed/xml": None,
    "wellformed/node_precedence": None, "wellformed/sgml": None, "wellformed/feedburner": None,
    "wellformed/http": 3, "wellformed/sanitize": 10,
}


def _data_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix in DATA_SUFFIXES and p.stat().st_size <= MAX_FILE_BYTES
    )


def _evenly(files: list[Path], count: int | None) -> list[Path]:
    if count is None or count >= len(files):
        return files
    return [files[i * len(files) // count] for i in range(count)]


def sample(checkout: Path) -> list[Path]:
    """Paths (relative to the checkout's tests/) of the sampled files."""
    tests = checkout / "tests"
    chosen: list[Path] = []
    for group, count in QUOTAS.items():
        folder = tests / group
        if folder.is_dir():
            chosen += _evenly(_data_files(folder), count)
    everything = [p for p in tests.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES
                  and p.stat().st_size <= MAX_FILE_BYTES]
    largest = max(everything, key=lambda p: p.stat().st_size)
    if largest not in chosen:
        chosen.append(largest)
    return [p.relative_to(tests) for p in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a feedparser checkout (its tests/ folder)")
    args = parser.parse_args()
    chosen = sample(args.checkout)
    for old in OUT.glob("*"):  # README.md is ours and stays
        if old.is_dir():
            shutil.rmtree(old)
        elif old.name != "README.md":
            old.unlink()
    for relative in chosen:
        target = OUT / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.checkout / "tests" / relative, target)
    shutil.copyfile(args.checkout / "LICENSE", OUT / "LICENSE")
    commit = subprocess.run(["git", "-C", str(args.checkout), "rev-parse", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    print(f"sampled {len(chosen)} files into {OUT.relative_to(ROOT)}"
          f" (feedparser {commit or 'checkout'}); keep README.md's commit in step")


if __name__ == "__main__":
    main()
