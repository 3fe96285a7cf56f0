"""The top-level modules keep the layer order too.

import-linter (`make lint`) builds its graph from packages only: it sees `runtime`, `config`,
`catalog`, `logs` and `bot` when a package imports them, but not what they import themselves.
This test reads the same `layers` contract from pyproject.toml and checks their own imports,
those inside functions included.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# setup.py is packaging (it compiles classify's hot modules), no module of the bot.
TOP_MODULES = sorted(path.stem for path in ROOT.glob("*.py") if path.name != "setup.py")
PACKAGES = sorted(path.parent.name for path in ROOT.glob("*/__init__.py"))


def layers() -> list[tuple[set[str], bool]]:
    """(names, independent) per layer, top first, as in the import-linter contract."""
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    contract = next(c for c in contracts if c["type"] == "layers")
    found = []
    for raw in contract["layers"]:
        independent = ":" not in raw
        names = {name.strip().strip("()") for name in raw.replace(":", "|").split("|")}
        found.append((names, independent))
    return found


def imported(path: Path) -> set[str]:
    """The top-level names of every absolute import in the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_every_module_and_package_has_a_layer() -> None:
    placed = set().union(*(names for names, _ in layers()))
    assert set(TOP_MODULES) | set(PACKAGES) - {"tests"} <= placed
    roots = set(PYPROJECT["tool"]["importlinter"]["root_packages"])
    assert roots == set(PACKAGES) - {"tests"}


def test_top_level_modules_import_only_lower_layers() -> None:
    order = layers()
    level = {name: i for i, (names, _) in enumerate(order) for name in names}
    wrong = []
    for module in TOP_MODULES:
        mine = level[module]
        for target in sorted(imported(ROOT / f"{module}.py") & level.keys() - {module}):
            theirs = level[target]
            if theirs < mine or (theirs == mine and order[mine][1]):
                wrong.append(f"{module} imports {target}")
    assert wrong == []
