"""Benchmark tests share one tiny-grid run (session scope) and the dataset doubles in ``doubles.py``."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from rich.console import Console

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import doubles  # noqa: E402,F401  (registers double-lidc and double-chaksu)
from helpers import GRID_DATASETS, GRID_OVERRIDES  # noqa: E402

from uqseg.experiments.command import benchmark_command  # noqa: E402


@pytest.fixture(scope="session")
def tiny_grid(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The tiny preset's whole grid (19 combinations × both synthetic datasets), run once through the command.

    Without the HTML report (a third of the time); test_resume's last run builds one."""
    out = tmp_path_factory.mktemp("tiny-grid")
    buffer = io.StringIO()
    run = benchmark_command(preset="tiny", datasets=[",".join(GRID_DATASETS)], out=out, progress=False,
                            overrides=GRID_OVERRIDES, console=Console(file=buffer, width=120))
    return {"run": run, "dir": out, "printed": buffer.getvalue()}
