"""The local executor with 2 worker processes (``execution.workers``) gives the tiny grid's results exactly, with
steps run in spawned workers rather than the driver."""

from __future__ import annotations

import pandas as pd
from helpers import subset

from uqseg.experiments.presets import resolve_config
from uqseg.experiments.runner import run_benchmark
from uqseg.experiments.steps import read_step_log
from uqseg.results import load_results

DATASET = "synthetic-lidc"
COMBOS = ("softmax+ensemble", "ssn+none")


def test_two_workers_equal_sequential(tmp_path, tiny_grid) -> None:
    cfg = resolve_config("tiny", datasets=[DATASET], combos=[",".join(COMBOS)],
                         overrides=["report=false", "execution.workers=2"])
    run = run_benchmark(cfg, tmp_path / "run", progress=False)
    done = [e for e in read_step_log(tmp_path / "run") if e["status"] == "done"]
    assert len(done) == run.done > 0
    workers = {e["worker"] for e in done}
    assert f"{done[0]['host']}:{done[0]['pid']}" not in workers
    reference = subset(load_results(tiny_grid["dir"]), [DATASET], COMBOS)
    pd.testing.assert_frame_equal(load_results(run.results), reference, check_exact=True)


def test_two_workers_resume_past_layers_of_finished_steps(tmp_path) -> None:
    """A rerun whose ready steps are all finished keeps going (it used to stop: "no step can run")."""
    cfg = resolve_config("tiny", datasets=[DATASET], combos=["ssn+none"],
                         overrides=["report=false", "execution.workers=2"])
    first = run_benchmark(cfg, tmp_path / "run", progress=False)
    metrics = next((tmp_path / "run" / "metrics").rglob("ssn+none.parquet"))
    metrics.unlink()
    second = run_benchmark(cfg, tmp_path / "run", progress=False)
    assert metrics.exists() and 1 <= second.done < first.done
