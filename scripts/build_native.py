#!/usr/bin/env python3
"""Build the classifier's compiled modules again when their sources changed (make run, test).

    .venv/bin/python scripts/build_native.py [--check]

Nothing to do when the extensions were built from the sources on disk (classify/native.py) or
with LOA_PURE_PYTHON set. Otherwise `setup.py build_ext --inplace` with this Python's mypyc (the
dev extra has it), else pip's own build (`pip install --no-deps -e .`, which brings mypy as the
build requirement). A failure is reported, never fatal: the modules then run as Python.
`--check` only says which it would be: exit 0 when up to date, 1 when a build is due.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_native() -> ModuleType:
    """classify/native.py alone (importing the package would import the modules themselves)."""
    spec = importlib.util.spec_from_file_location("_loa_native", ROOT / "classify" / "native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether a build is due")
    args = parser.parse_args()
    native = load_native()
    if native.pure_asked():
        print(f"classify: {native.PURE_ENV} set, the hot modules run as Python")
        return 0
    if native.extensions() and native.stamp_matches():
        print("classify: the compiled modules are up to date")
        return 0
    if args.check:
        print("classify: the compiled modules are missing or older than their sources")
        return 1
    has_mypyc = importlib.util.find_spec("mypyc") is not None
    command = ([sys.executable, "setup.py", "--quiet", "build_ext", "--inplace"] if has_mypyc
               else [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", "."])
    print(f"classify: compiling the hot modules with mypyc (about a minute): {' '.join(command)}")
    done = subprocess.run(command, cwd=ROOT).returncode == 0
    if not (done and native.stamp_matches()):
        print("classify: the compiled modules could not be built; the classifier runs as Python")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
