"""docs/library.md's worked example runs as written: its Python code blocks, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[1] / "docs" / "library.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_library_example_runs(capsys) -> None:
    blocks = _blocks()
    assert len(blocks) == 4
    scope: dict = {"__name__": "library_example"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), scope)
    table, deltas = scope["table"], scope["deltas"]
    assert set(table.task) >= {"AMB", "CAL", "OODD", "SEG", "COLLAPSE"}
    assert len(scope["auroc_eu"]) == 5
    assert set(deltas.model) == {"steady", "diverse", "wild"}
    for kind in ("performance_rank", "delta_rank"):
        counts = deltas.groupby(["task", "split", "metric", "aggregation"])[kind].sum()
        np.testing.assert_allclose(counts, 1 + 2 + 3)  # three models ranked in each comparison, ties averaged
    assert scope["oodd"] > 0.9  # the toy's shifted images have clearly higher EU
    assert "NCC" in capsys.readouterr().out


def test_the_readme_excerpt_runs(capsys) -> None:
    readme = DOC.parents[1] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1 and "docs/library.md" in readme.read_text(encoding="utf-8")
    exec(compile(blocks[0], str(readme), "exec"), {"__name__": "readme_excerpt"})
    assert len(capsys.readouterr().out.splitlines()) == 2
