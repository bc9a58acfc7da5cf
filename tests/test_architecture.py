"""The package's layering (docs/architecture.md): every import between uqseg's folders, function-local ones included,
is in the allowed-imports table, and the folders import each other without a cycle.

A "folder" is a subpackage (``uqseg.report.figures.style`` → ``report``) or a top-level module (``uqseg.layout`` →
``layout``). The checker is tested on a small fake package, so a violation is known to fail.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path

import uqseg

FOUNDATION = {"errors", "vocabulary"}
#: Folder → the folders it may import (docs/architecture.md "What each layer may import").
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "faults": set(),
    "atomic": {"errors", "faults"},
    "vocabulary": {"errors"},
    "layout": {"errors"},
    "data": FOUNDATION | {"atomic"},
    "uncertainty": FOUNDATION,
    "metrics": FOUNDATION | {"uncertainty"},
    "store": FOUNDATION | {"layout"},
    "results": FOUNDATION | {"atomic", "layout", "metrics"},
    "nn": FOUNDATION | {"data"},
    "epistemic": FOUNDATION | {"atomic", "data", "nn"},
    "training": FOUNDATION | {"atomic", "layout", "data", "nn", "epistemic"},
    "inference": FOUNDATION | {"atomic", "layout", "store", "results", "data", "nn", "epistemic", "training",
                               "uncertainty", "metrics"},
    "report": FOUNDATION | {"atomic", "layout", "store", "results", "data", "uncertainty", "metrics"},
    "experiments": FOUNDATION | {"atomic", "faults", "layout", "store", "results", "data", "nn", "epistemic",
                                 "training", "inference", "uncertainty", "metrics", "report"},
    "cli": FOUNDATION | {"atomic", "layout", "store", "results", "data", "nn", "epistemic", "training", "inference",
                         "uncertainty", "metrics", "report", "experiments"},
    "uqseg": set(),
}
MODEL_CODE = {"nn", "epistemic", "training", "inference", "experiments", "report"}


def folder_of(package: str, relative: Path) -> str:
    """The folder a module file belongs to: its first path part, or the package itself for its ``__init__.py``."""
    if relative.parts == ("__init__.py",):
        return package
    return relative.parts[0].removesuffix(".py")


def imported_folders(tree: ast.AST, package: str, module: list[str], folders: set[str]) -> set[str]:
    """The ``folders`` of ``package`` a module (``module``: its dotted name's parts) imports anywhere in its body,
    absolute and relative imports alike (``from uqseg import __version__`` names no folder)."""
    out = set()
    for node in ast.walk(tree):
        targets: list[list[str]] = []
        if isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = module[: len(module) - node.level] if node.level else []
            parts = [*base, *(node.module.split(".") if node.module else [])]
            targets = [parts] if len(parts) > 1 else [[*parts, alias.name] for alias in node.names]
        out |= {t[1] for t in targets if len(t) > 1 and t[0] == package and t[1] in folders}
    return out


def import_graph(root: Path) -> dict[str, dict[str, set[str]]]:
    """Folder → imported folder → the files that import it, for the package in ``root`` (self-imports left out)."""
    package = root.name
    folders = {p.name.removesuffix(".py") for p in root.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
    graph: dict[str, dict[str, set[str]]] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        module = [package, *relative.with_suffix("").parts]
        folder = folder_of(package, relative)
        graph.setdefault(folder, {})
        for target in imported_folders(ast.parse(path.read_text(encoding="utf-8")), package, module, folders):
            if target != folder:
                graph[folder].setdefault(target, set()).add(relative.as_posix())
    return graph


def violations(graph: Mapping[str, Mapping[str, set[str]]], allowed: Mapping[str, set[str]]) -> list[str]:
    """Every import the table does not allow, and every folder missing from the table, as readable lines."""
    out = []
    for folder, targets in sorted(graph.items()):
        if folder not in allowed:
            out.append(f"{folder}: not in the allowed-imports table (add it there and to docs/architecture.md)")
            continue
        for target, files in sorted(targets.items()):
            if target not in allowed[folder]:
                out.append(f"{folder} must not import {target} (in {', '.join(sorted(files))})")
    return out


def find_cycle(graph: Mapping[str, Mapping[str, set[str]]]) -> list[str] | None:
    """One import cycle across folders as [a, b, …, a], or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


PACKAGE = Path(uqseg.__file__).parent


def test_every_import_is_allowed() -> None:
    assert violations(import_graph(PACKAGE), ALLOWED) == []


def test_no_import_cycle_across_folders() -> None:
    assert find_cycle(import_graph(PACKAGE)) is None


def test_the_table_keeps_the_stated_rules() -> None:
    """The table itself: the foundation imports nothing above it, data/metrics/uncertainty no model code, report
    no experiments/training/inference/nn, nothing the CLI."""
    for low in ("errors", "vocabulary", "layout"):
        assert ALLOWED[low] <= {"errors"}, low
    for folder in ("data", "metrics", "uncertainty"):
        assert not ALLOWED[folder] & MODEL_CODE, folder
    assert not ALLOWED["report"] & {"experiments", "training", "inference", "nn"}
    assert all("cli" not in targets for targets in ALLOWED.values())
    assert find_cycle({f: {key: set() for key in t} for f, t in ALLOWED.items()}) is None


def test_the_table_matches_the_architecture_doc() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] in ALLOWED and line.startswith("| `"):
            rows[cells[0]] = {c.strip().strip("`") for c in cells[1].split(",") if c.strip() and c.strip() != "—"}
    assert rows == ALLOWED


def _write(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_checker_finds_a_forbidden_local_import_and_a_cycle(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "__init__.py": "",
        "errors.py": "",
        "low/__init__.py": "from pkg.errors import E\n",
        "low/helper.py": "def f():\n    from pkg.high.thing import g\n    return g\n",
        "high/__init__.py": "",
        "high/thing.py": "from ..low import helper\nfrom pkg import errors, __version__\n",
    })
    graph = import_graph(root)
    assert {k: set(v) for k, v in graph.items()} == {
        "pkg": set(), "errors": set(), "low": {"errors", "high"}, "high": {"low", "errors"}}
    allowed = {"pkg": set(), "errors": set(), "low": {"errors"}, "high": {"low", "errors"}}
    assert violations(graph, allowed) == ["low must not import high (in low/helper.py)"]
    assert find_cycle(graph) in (["high", "low", "high"], ["low", "high", "low"])
    del allowed["high"]
    assert "high: not in the allowed-imports table" in violations(graph, allowed)[0]


def test_checker_passes_a_clean_package(tmp_path: Path) -> None:
    root = _write(tmp_path, {"__init__.py": "import pkg.low\n", "low/__init__.py": "import os\nfrom . import x\n",
                             "low/x.py": "from pkg.low import y\n", "low/y.py": ""})
    graph = import_graph(root)
    assert violations(graph, {"pkg": {"low"}, "low": set()}) == [] and find_cycle(graph) is None

