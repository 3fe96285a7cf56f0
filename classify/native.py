"""Whether the classifier's hot modules run compiled (mypyc) or as the Python they are written in.

Issue 10 asks for 10,000 items/s on one core. What was left after the hand-written shortcuts
was Python's own overhead, spread over reading every name in its context; mypyc compiles the
modules below from the same source (they are mypy-strict clean) into C extensions, which cut
callgrind's instructions per item by about a quarter with byte-identical output
(bench/classify_identity.py). The source stays the truth: it is what is read, tested and
edited, and it runs as it is wherever no compiler ran (a machine without a C compiler, the
slim container, LOA_PURE_PYTHON=1).

Two readers are written in C by hand (C_MODULES), where what mypyc left was Python's own work
on every word or character of an item: the topic model's words (classify/wordweights.c) and
folding and normalising the text (classify/texttable.c). Each stands in for Python that stays
beside it as the reference, and is built and used only with the compiled modules, under the
same digest; tests/test_classify_native_c.py checks that both answer alike. Together they cut
callgrind's instructions per item by about a third again.

setup.py compiles them when the package is installed (`make run`, `make test`, `pip install`;
the Makefile builds again when one of them changes) and records NATIVE_STAMP: a digest of
the sources it compiled. On import of `classify` (this module is imported first) the compiled
modules are used only when that digest is the digest of the sources on disk now, so a module
edited after the build runs as its edited source, never as a stale extension. Otherwise, and
with LOA_PURE_PYTHON set (to any value but "" or "0"), every one of them is read from its .py
file: never a mix, since the compiled modules call each other directly.

Compiled code differs from Python in ways this code does not rely on: annotations are checked
at run time (a wrong type raises TypeError), a compiled module's functions and classes cannot
be patched from outside, and its classes cannot grow attributes they do not declare.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

# The modules compiled, those each imports first (setup.py reads this list).
COMPILED = ("textmap", "wordgate", "gazetteer", "places", "topics", "topic_model", "classifier")
# Written in C, built beside them and used only with them (each source says why).
C_MODULES = {"_wordweights": "wordweights.c", "_texttable": "texttable.c"}
# mypyc's group: its shared library is loa_classify__mypyc.*.so beside the package (a dotted
# group would put it inside, but then mypyc gives each module a wrong __file__).
GROUP = "loa_classify"
NATIVE_STAMP = "native.sha256"  # the digest of the sources compiled, beside the extensions
PURE_ENV = "LOA_PURE_PYTHON"
_HERE = Path(__file__).resolve().parent


def sources_digest(folder: Path = _HERE) -> str:
    """The digest of the compiled modules' sources as they are in `folder`."""
    digest = hashlib.sha256()
    for name in [f"{module}.py" for module in COMPILED] + list(C_MODULES.values()):
        data = (folder / name).read_bytes()
        digest.update(f"{name} {len(data)}\n".encode() + data)
    return digest.hexdigest()


def extensions(folder: Path = _HERE) -> list[Path]:
    """The compiled modules found in `folder` and their shared library beside it."""
    found = []
    names = [*COMPILED, *C_MODULES]
    for path in [folder / name for name in names] + [folder.parent / f"{GROUP}__mypyc"]:
        found += [Path(f"{path}{suffix}") for suffix in importlib.machinery.EXTENSION_SUFFIXES
                  if Path(f"{path}{suffix}").exists()]
    return found


def pure_asked() -> bool:
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def stamp_matches(folder: Path = _HERE) -> bool:
    """Whether the extensions in `folder` were built from its sources (a source missing, as in
    a wheel without them, is no match)."""
    try:
        recorded = (folder / NATIVE_STAMP).read_text(encoding="ascii").strip()
        return recorded == sources_digest(folder)
    except OSError:
        return False


class PureFinder:
    """Finds each compiled module's .py file before the import system finds its extension."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __package__ or name not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(fullname, self.folder / f"{name}.py")


def choose() -> str:
    """Compiled or pure, decided once before any of the modules is imported: "compiled" when
    the extensions were built from today's sources, else "pure" (the reason after a colon)."""
    if not extensions():
        return "pure: not compiled"
    reason = (f"{PURE_ENV} set" if pure_asked()
              else "" if stamp_matches() else "the sources changed since the build")
    if not reason:
        return "compiled"
    if not any(isinstance(f, PureFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, PureFinder(_HERE))
    return f"pure: {reason}"


MODE = choose()


def in_use() -> str:
    """"compiled" or "pure: why", as the modules were actually loaded (the bench prints it)."""
    loaded = [sys.modules.get(f"{__package__}.{name}") for name in COMPILED]
    files = [str(getattr(m, "__file__", "") or "") for m in loaded if m is not None]
    if files and not any(f.endswith(".py") for f in files):
        return "compiled"
    return MODE if MODE != "compiled" else "pure: not loaded as compiled"
