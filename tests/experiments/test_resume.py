"""Crash safety and the run lock (resume, crash safety, concurrency).

A reduced grid of the tiny preset runs as a subprocess. While it runs, a second benchmark on the same run directory
exits at once naming the first one's pid. The first is SIGKILLed once some training steps are done and again once
some prediction steps are done; running it again finishes the study, no finished step is redone, no temporary file
is left, the report is built (a step the killed runs lacked) and the results equal those of the uninterrupted
tiny-grid run, bit for bit.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pandas as pd
from helpers import subset, uqseg, uqseg_process

from uqseg.experiments.steps import read_step_log
from uqseg.results import load_results

DATASET = "synthetic-lidc"
COMBOS = ("softmax+dropout", "ssn+swag", "prob_unet+ensemble", "diffusion+none")
ARGS = ["benchmark", "--preset", "tiny", "--datasets", DATASET, "--combos", ",".join(COMBOS), "--no-progress"]
NO_REPORT = ["--set", "report=false"]


def _count(run_dir: Path, kind: str) -> int:
    return sum(1 for e in read_step_log(run_dir) if e.get("kind") == kind and e.get("status") == "done")


def _start_and_kill(run_dir: Path, kind: str, n_done: int, timeout: float = 300) -> None:
    """Start the benchmark and SIGKILL it once ``n_done`` more steps of ``kind`` have finished."""
    start = _count(run_dir, kind)
    proc = uqseg_process([*ARGS, *NO_REPORT, "--out", str(run_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while _count(run_dir, kind) < start + n_done:
            assert proc.poll() is None, f"the benchmark ended before it was killed: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "the benchmark made no progress"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def test_lock_names_the_running_process(tmp_path) -> None:
    run_dir = tmp_path / "run"
    first = uqseg_process([*ARGS, *NO_REPORT, "--out", str(run_dir)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not read_step_log(run_dir):  # the lock is taken before the first step starts
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = uqseg([*ARGS, "--out", str(run_dir)], timeout=300)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pid {first.pid}" in lines[0] and "in use" in lines[0]
        assert first.poll() is None  # it did not wait for the first one to finish
        assert all(e["pid"] == first.pid for e in read_step_log(run_dir))
    finally:
        first.kill()
        first.wait(timeout=60)


def test_killed_twice_then_resumed_equals_uninterrupted(tmp_path, tiny_grid) -> None:
    run_dir = tmp_path / "run"
    _start_and_kill(run_dir, "train", 2)
    _start_and_kill(run_dir, "predict", 3)
    done = uqseg([*ARGS, "--out", str(run_dir)])  # with the report this time: a new step, nothing else changes
    assert done.returncode == 0, done.stderr
    report = run_dir / "report" / "index.html"
    assert report.is_file() and f"report: {report}" in done.stdout and f"results: {run_dir}" in done.stdout
    assert "diffusion+none" in done.stdout
    events = read_step_log(run_dir)
    finished = Counter(e["name"] for e in events if e["status"] == "done")
    assert finished and max(finished.values()) == 1, [n for n, c in finished.items() if c > 1]
    assert len({e["pid"] for e in events}) == 3
    last_pid = events[-1]["pid"]
    skipped_last = {e["name"] for e in events if e["pid"] == last_pid and e["status"] == "skipped"}
    assert sum(1 for n in skipped_last if n.startswith("train/")) >= 2
    assert sum(1 for n in skipped_last if n.startswith("predict/")) >= 3
    assert not list(run_dir.rglob(".tmp-*"))
    resumed = load_results(run_dir)
    reference = subset(load_results(tiny_grid["dir"]), [DATASET], COMBOS)
    assert len(resumed) == len(reference) > 0
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)
