"""classify.native: the hot modules run compiled only when built from the sources on disk, run
as Python otherwise (or when asked), and both ways say the same about every item."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from classify import native
from classify.labelled import labelled_files, load_jsonl

ROOT = Path(__file__).resolve().parents[1]
COMPILED_HERE = native.MODE == "compiled"
needs_compiled = pytest.mark.skipif(not COMPILED_HERE, reason=f"classify {native.MODE}")

# Run in a fresh process: which modules it loaded, how, and the output for some items.
_PROBE = """
import json, sys
import classify
from classify import get_classifier, native
import classify.places
items = json.loads(sys.stdin.read())
out = [get_classifier().classify(t, s, f) for t, s, f in items]
print(json.dumps({"mode": native.MODE, "in_use": native.in_use(),
                  "places": classify.places.__file__,
                  "out": [[r.provinces, r.topics, r.scores, [e.to_json() for e in r.evidence]]
                          for r in out]}, ensure_ascii=False))
"""


def probe(path: Path, items: list[tuple[str, str, str | None]] | None = None,
          pure: bool = False) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    if pure:
        env[native.PURE_ENV] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(path), str(ROOT)])
    done = subprocess.run([sys.executable, "-c", _PROBE], input=json.dumps(items or []),
                          capture_output=True, text=True, env=env, cwd=path, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def sample_items() -> list[tuple[str, str, str | None]]:
    items = [i for p in labelled_files() for i in load_jsonl(p)][::40]
    return [(i.get("title") or "", i.get("summary") or "", i.get("feed_province"))
            for i in items]


def copy_tree(tmp_path: Path) -> Path:
    """The classify package with whatever was built beside it, and the data it reads."""
    shutil.copytree(ROOT / "classify", tmp_path / "classify",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for lib in ROOT.glob(f"{native.GROUP}__mypyc*"):
        shutil.copy2(lib, tmp_path / lib.name)
    (tmp_path / "data").symlink_to(ROOT / "data")
    return tmp_path


def test_pure_python_when_asked_and_the_same_output_as_compiled() -> None:
    items = sample_items()
    pure = probe(ROOT, items, pure=True)
    assert str(pure["places"]).endswith("places.py")
    assert str(pure["in_use"]).startswith("pure")
    assert pure["out"], "the sample classifies"
    if COMPILED_HERE:
        compiled = probe(ROOT, items)
        assert compiled["mode"] == compiled["in_use"] == "compiled"
        assert not str(compiled["places"]).endswith(".py")
        assert compiled["out"] == pure["out"]


@needs_compiled
def test_a_source_changed_after_the_build_runs_as_python(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    assert probe(tree)["in_use"] == "compiled"  # the copy as built
    places = tree / "classify" / "places.py"
    places.write_text(places.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    edited = probe(tree, [("Bão số 3 đổ bộ Quảng Ninh", "", None)])
    assert edited["mode"] == edited["in_use"] == "pure: the sources changed since the build"
    assert str(edited["places"]).endswith("places.py")
    assert edited["out"] == probe(ROOT, [("Bão số 3 đổ bộ Quảng Ninh", "", None)])["out"]


@needs_compiled
def test_no_stamp_no_compiled_modules(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    (tree / "classify" / native.NATIVE_STAMP).unlink()
    assert probe(tree)["in_use"] == "pure: the sources changed since the build"


def test_without_extensions_the_package_is_pure_python(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    for path in native.extensions(tree / "classify"):
        path.unlink()
    assert native.extensions(tree / "classify") == []
    assert probe(tree)["in_use"] == "pure: not compiled"


def test_the_digest_covers_every_compiled_source(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    before = native.sources_digest(tree / "classify")
    assert before == native.sources_digest(ROOT / "classify")
    for name in [f"{module}.py" for module in native.COMPILED] + list(native.C_MODULES.values()):
        source = tree / "classify" / name
        text = source.read_text(encoding="utf-8")
        source.write_text(text + " ", encoding="utf-8")
        assert native.sources_digest(tree / "classify") != before, name
        source.write_text(text, encoding="utf-8")


def test_the_pure_finder_answers_only_for_the_compiled_modules() -> None:
    finder = native.PureFinder(ROOT / "classify")
    spec = finder.find_spec("classify.places", None)
    assert spec is not None and spec.origin == str(ROOT / "classify" / "places.py")
    assert finder.find_spec("classify.query", None) is None
    assert finder.find_spec("places", None) is None
    assert finder.find_spec("vntext.places", None) is None


def test_build_script_check_says_whether_a_build_is_due(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "build_native.py"
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                          text=True, env=env)
    # Built from today's sources, whether or not this process runs them (LOA_PURE_PYTHON).
    built = bool(native.extensions()) and native.stamp_matches()
    assert done.returncode == (0 if built else 1), done.stdout
    env[native.PURE_ENV] = "1"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0 and native.PURE_ENV in done.stdout


def test_compiled_artefacts_are_never_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "classify/places.cpython-311-x86_64-linux-gnu.so",
         f"{native.GROUP}__mypyc.cpython-311-x86_64-linux-gnu.so",
         f"classify/{native.NATIVE_STAMP}", "build/lib/classify/places.c"],
        cwd=ROOT, capture_output=True, text=True)
    if ignored.returncode == 128:
        pytest.skip("not a git checkout")
    assert len(ignored.stdout.split()) == 4, ignored.stdout


def test_a_missing_source_runs_as_python(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    (tree / "classify" / next(iter(native.C_MODULES.values()))).unlink()
    assert native.stamp_matches(tree / "classify") is False
    if COMPILED_HERE:
        assert probe(tree)["in_use"] == "pure: the sources changed since the build"
