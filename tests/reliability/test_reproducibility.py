"""Reproducibility, concurrency and numerical faults at the benchmark level (docs/reliability.md).

- The same seed and config on CPU give bit-identical results and metrics tables; environment.json records
  versions, git commit and hardware, and the report's run summary shows them.
- A second ``uqseg benchmark`` on a run directory in use exits at once naming the process that holds it.
- NaN planted in a stored uncertainty map stops the metrics step with an error naming combination and split.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from reliability_helpers import BENCHMARK, COMBO, DATASET

from uqseg.cli import main
from uqseg.errors import NumericalError
from uqseg.experiments.command import benchmark_command
from uqseg.experiments.lock import RunLock
from uqseg.layout import STATE_DIR
from uqseg.report.run_info import summary_table
from uqseg.results import load_results


def _run(out: Path) -> None:
    benchmark_command(preset="tiny", datasets=[DATASET], combos=[COMBO], out=out, overrides=["report=false"],
                      progress=False)


def test_same_seed_and_config_give_bit_identical_tables(tmp_path: Path, reduced_run: Path) -> None:
    again = tmp_path / "again"
    _run(again)
    pd.testing.assert_frame_equal(load_results(again), load_results(reduced_run), check_exact=True)
    assert (again / "results.csv").read_bytes() == (reduced_run / "results.csv").read_bytes()
    metrics = sorted(p.relative_to(reduced_run) for p in (reduced_run / "metrics").rglob("*.csv"))
    assert metrics and all((again / p).read_bytes() == (reduced_run / p).read_bytes() for p in metrics)


def test_environment_is_recorded_and_reported(reduced_run: Path) -> None:
    env = json.loads((reduced_run / "environment.json").read_text())
    assert env["packages"]["torch"] == torch.__version__ and env["packages"]["numpy"] == np.__version__
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True)
    if head.returncode == 0:
        assert env["git"]["commit"] == head.stdout.strip()
    assert env["hardware"]["cpu_count"] == os.cpu_count() and env["hardware"]["torch_threads"] == 1
    assert env["end"] and env["wall_s"] > 0
    summary = dict(summary_table({"name": "tiny"}, env, load_results(reduced_run)).values)
    assert summary["git commit"].startswith(env["git"]["commit"] or "unknown")
    assert f"torch {torch.__version__}" in summary["packages"]
    assert f"{os.cpu_count()}" in summary["hardware"]


def test_second_benchmark_on_a_locked_run_dir_exits_at_once(tmp_path: Path, monkeypatch, capsys) -> None:
    """This process holds the lock (as a running benchmark would); ``uqseg benchmark`` on the same directory."""
    run_dir = tmp_path / "run"
    monkeypatch.setattr(sys, "argv", ["uqseg", *BENCHMARK, "--out", str(run_dir)])
    with RunLock(run_dir), pytest.raises(SystemExit) as exit_:
        t0 = time.monotonic()
        main()
    elapsed = time.monotonic() - t0
    (message,) = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and f"pid {os.getpid()}" in message and "in use" in message, message
    assert elapsed < 5  # at once: no work
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]  # nothing written: no config, no step log


def test_nan_in_a_stored_map_is_caught_before_the_metrics(tmp_path: Path, reduced_run: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reduced_run, run_dir)
    with h5py.File(run_dir / "predictions" / DATASET / "seed0" / COMBO / "ood-blur.h5", "a") as f:
        f["eu"][1, 2, 3] = np.nan
    (marker,) = (run_dir / STATE_DIR / "done").glob("metrics_*.json")
    marker.unlink()  # the metrics step runs again; the prediction steps stay complete
    before = (run_dir / "results.parquet").read_bytes()
    with pytest.raises(NumericalError, match=r"ssn\+none split 'ood-blur': non-finite eu .* image index 1"):
        _run(run_dir)
    assert (run_dir / "results.parquet").read_bytes() == before
    assert not marker.exists()
