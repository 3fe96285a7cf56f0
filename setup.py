"""Packaging: pyproject.toml has the metadata; this adds the classifier's compiled modules.

Which modules are compiled with mypyc, and why: classify/native.py. mypyc comes as a build
requirement (pyproject.toml); where it is missing, where the C compiler fails (the slim
container has none) or with LOA_PURE_PYTHON=1, the package installs as the pure Python it is
written in: the extensions are optional, and classify/native.py uses them only when the digest
this build records (native.sha256, beside them) is the digest of the sources it finds.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def _native() -> ModuleType:
    """classify/native.py alone (importing the package would import the classifier)."""
    spec = importlib.util.spec_from_file_location("_loa_native", ROOT / "classify" / "native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NATIVE = _native()
WANTED = os.environ.get(NATIVE.PURE_ENV, "") in ("", "0")


class BuildNative(build_ext):
    """mypyc runs here, when extensions are built, not whenever setup.py is read."""

    def finalize_options(self) -> None:
        if WANTED and self.distribution.ext_modules:
            self.distribution.ext_modules = self._mypycify()
        super().finalize_options()

    def _mypycify(self) -> list[Extension]:
        try:
            from mypyc.build import mypycify
        except ImportError:
            print("loa: mypyc is missing: the classifier stays pure Python")
            return []
        paths = [f"classify/{name}.py" for name in NATIVE.COMPILED]
        try:
            extensions = mypycify(paths, group_name=NATIVE.GROUP, opt_level="3")
        except (Exception, SystemExit) as exc:  # mypyc exits on a type error
            print(f"loa: mypyc failed ({exc!r}): the classifier stays pure Python")
            return []
        extensions += [Extension(f"classify.{name}", [f"classify/{source}"])
                       for name, source in NATIVE.C_MODULES.items()]
        for ext in extensions:
            ext.optional = True  # no C compiler: the package installs without them
        return extensions

    def build_extension(self, ext: Extension) -> None:
        super().build_extension(ext)  # raises when it fails (then skipped: optional)
        self.built.add(ext.name)

    def run(self) -> None:
        self.built: set[str] = set()
        for base in self._bases():
            (base / "classify" / NATIVE.NATIVE_STAMP).unlink(missing_ok=True)
        super().run()
        if not self.extensions:
            return
        for base in self._bases():
            built = [base / self.get_ext_filename(ext.name) for ext in self.extensions]
            if self.built == {e.name for e in self.extensions} and all(p.exists() for p in built):
                (base / "classify" / NATIVE.NATIVE_STAMP).write_text(
                    NATIVE.sources_digest(ROOT / "classify") + "\n", encoding="ascii")
            else:
                print(f"loa: not every compiled module was built in {base}: "
                      "the classifier stays pure Python there")

    def _bases(self) -> list[Path]:
        """Where the extensions land: the build directory, and the source tree when built in
        place (an editable install)."""
        bases = [Path(self.build_lib)]
        if self.inplace or getattr(self, "editable_mode", False):
            bases.append(ROOT)
        return bases


# A placeholder: BuildNative puts mypyc's extensions in its place.
setup(ext_modules=[Extension(f"{NATIVE.GROUP}__mypyc", sources=[])] if WANTED else [],
      cmdclass={"build_ext": BuildNative})
