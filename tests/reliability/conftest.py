"""Reliability tests import their helpers from this folder and share one uninterrupted run of the reduced grid."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reliability_helpers import COMBO, DATASET

from uqseg.experiments.command import benchmark_command


@pytest.fixture(scope="session")
def reduced_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run directory of an uninterrupted tiny-preset run of one combination on one dataset (in-process)."""
    out = tmp_path_factory.mktemp("reduced") / "run"
    benchmark_command(preset="tiny", datasets=[DATASET], combos=[COMBO], out=out, overrides=["report=false"],
                      progress=False)
    return out
