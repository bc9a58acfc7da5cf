"""Crash safety: SIGKILL ``uqseg benchmark`` half-way through a write at every stage, then run it again.

The fault hook ``UQSEG_FAULT_KILL_WRITE`` (``uqseg.faults``) kills the process after an atomic write has filled its
temporary file and cut it to half, before the rename: the state a crash in the middle of writing leaves. Each kill
must leave that half-written ``.tmp-*`` file and nothing under the final name; the last, unfaulted run must finish
the study, remove the leftovers, redo only unfinished steps and give the results of an uninterrupted run, bit for bit.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reliability_helpers import BENCHMARK, COMBO, DATASET, uqseg

from uqseg.experiments.steps import read_step_log
from uqseg.faults import KILL_WRITE_ENV
from uqseg.results import load_results

# (stage, destination text the fault matches, which matching write, the step that must not be marked done)
FAULTS = (
    ("data preparation", f"run/data/{DATASET}/", 1, f"data/{DATASET}"),
    ("training", "run/training/", 2, f"train/{DATASET}/seed0/ssn/shared"),
    ("inference writes", f"run/predictions/{DATASET}/", 3, f"predict/{DATASET}/seed0/{COMBO}/ood-noise"),
    ("metric writes", "run/metrics/", 1, f"metrics/{DATASET}/seed0/{COMBO}"),
    ("results writes", "run/results.parquet", 1, "results"),
)
DEFAULT_FAULTS = ("inference writes", "metric writes")


@pytest.fixture(scope="module")
def reference(reduced_run: Path) -> pd.DataFrame:
    """The results of an uninterrupted run of the reduced grid."""
    return load_results(reduced_run)


def _done(run_dir: Path) -> Counter:
    return Counter(e["name"] for e in read_step_log(run_dir) if e["status"] == "done")


def _kill_during_write(run_dir: Path, stage: str) -> None:
    _, text, nth, step = next(f for f in FAULTS if f[0] == stage)
    proc = uqseg([*BENCHMARK, "--out", str(run_dir)], env={KILL_WRITE_ENV: f"{text}@{nth}"})
    assert proc.returncode == -signal.SIGKILL, (stage, proc.returncode, proc.stderr[-2000:])
    finals = {tmp: tmp.parent / tmp.name.removeprefix(".tmp-").rsplit(".", 1)[0] for tmp in run_dir.rglob(".tmp-*")}
    leftovers = {tmp: final for tmp, final in finals.items() if text in final.as_posix()}
    assert leftovers, f"{stage}: no half-written temporary file was left"
    for tmp, final in leftovers.items():  # nothing new under the final name (an older version may be there)
        assert not final.exists() or final.stat().st_mtime <= tmp.stat().st_mtime, f"{stage}: {final} is newer"
    assert step not in _done(run_dir), f"{stage}: {step} is marked done"


def _resume_and_compare(run_dir: Path, reference: pd.DataFrame) -> None:
    proc = uqseg([*BENCHMARK, "--out", str(run_dir)])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not list(run_dir.rglob(".tmp-*"))
    done = _done(run_dir)
    assert max(done.values()) == 1, [name for name, n in done.items() if n > 1]  # no finished step redone
    pd.testing.assert_frame_equal(load_results(run_dir), reference, check_exact=True)


def test_killed_mid_write_of_predictions_and_metrics_then_resumed_equals_uninterrupted(tmp_path, reference) -> None:
    run_dir = tmp_path / "run"
    for stage in DEFAULT_FAULTS:
        _kill_during_write(run_dir, stage)
    _resume_and_compare(run_dir, reference)


@pytest.mark.slow
def test_killed_mid_write_at_every_stage_then_resumed_equals_uninterrupted(tmp_path, reference) -> None:
    run_dir = tmp_path / "run"
    for stage, *_ in FAULTS:
        _kill_during_write(run_dir, stage)
    _resume_and_compare(run_dir, reference)


@pytest.mark.slow
def test_killed_at_random_moments_then_resumed_equals_uninterrupted(tmp_path, reference) -> None:
    """SIGKILL after random delays (seeded), five times, then let it finish."""
    run_dir = tmp_path / "run"
    rng = np.random.default_rng(10)
    for delay in rng.uniform(3.0, 25.0, size=5):
        proc = subprocess.Popen([sys.executable, "-m", "uqseg.cli", *BENCHMARK, "--out", str(run_dir)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    _resume_and_compare(run_dir, reference)
