"""One full report of the fake run, built once and shared by the build and browser tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_run import fake_datasets, write_fake_run

from uqseg.report import build_report


@pytest.fixture(scope="session")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """index.html of the fake run: 2 datasets, 2 seeds, all 19 combinations, stored predictions and datasets."""
    run = write_fake_run(tmp_path_factory.mktemp("run"))
    return build_report(run, datasets=fake_datasets())
