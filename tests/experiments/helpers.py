"""Shared constants and helpers of the benchmark tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from uqseg.results import load_results

HERE = Path(__file__).resolve().parent
GRID_DATASETS = ("synthetic-lidc", "synthetic-chaksu")
GRID_OVERRIDES = ["report=false"]


def uqseg_process(args: list[str], **options) -> subprocess.Popen:
    """``uqseg ARGS`` in a new process that also registers the dataset doubles."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    code = "import sys, doubles; from uqseg.cli import main; sys.argv[0] = 'uqseg'; main()"
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True, **options)


def uqseg(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``uqseg ARGS`` to the end and return its exit code and output."""
    proc = uqseg_process(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def subset(results: pd.DataFrame, datasets, combos) -> pd.DataFrame:
    """The rows of ``results`` for some datasets and ``au+eu`` combinations, in canonical order."""
    combo = results.au + "+" + results.eu
    rows = results[results.dataset.isin(list(datasets)) & combo.isin(list(combos))]
    return rows.reset_index(drop=True)


def results_of(run_dir: Path) -> pd.DataFrame:
    """The results table of a run directory."""
    return load_results(run_dir)


def planned_graphs(off, on, run_dir: Path) -> dict:
    """The step graphs of config ``off`` and ``on`` (``on`` twice) in ``run_dir``, planned after running ``off``'s
    data steps alone; ``dir`` is ``run_dir``."""
    from uqseg.experiments.runner import run_benchmark
    from uqseg.experiments.study import data_steps, study_graph

    run_benchmark(off, run_dir, progress=False, kinds=())
    data = data_steps(off)
    return {"off": study_graph(off, run_dir, data), "on": study_graph(on, run_dir, data),
            "again": study_graph(on, run_dir, data), "dir": run_dir}
