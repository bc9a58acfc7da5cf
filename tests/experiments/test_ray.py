"""The Ray executor: a local Ray instance with 2 CPUs gives the same results table as the
local executor. Reduced grid (one dataset, every AU model and EU family once); skipped if Ray is not installed."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import subset

from uqseg.experiments.presets import resolve_config
from uqseg.experiments.runner import run_benchmark
from uqseg.experiments.steps import read_step_log
from uqseg.results import load_results

pytest.importorskip("ray")

DATASET = "synthetic-chaksu"
COMBOS = ("softmax+swag_d", "ssn+dropout", "prob_unet+none", "diffusion+ensemble")


def test_ray_equals_local(tmp_path, tiny_grid) -> None:
    import ray

    cfg = resolve_config("tiny", datasets=[DATASET], combos=[",".join(COMBOS)], executor="ray",
                         overrides=["report=false", "execution.ray_num_cpus=2"])
    run = run_benchmark(cfg, tmp_path / "run", progress=False)
    assert not ray.is_initialized()  # the instance the executor started is shut down
    done = [e for e in read_step_log(tmp_path / "run") if e["status"] == "done"]
    assert len(done) == run.done > 0
    workers = {e["worker"] for e in done}
    assert f"{done[0]['host']}:{done[0]['pid']}" not in workers  # the steps ran in Ray workers, not the driver
    reference = subset(load_results(tiny_grid["dir"]), [DATASET], COMBOS)
    pd.testing.assert_frame_equal(load_results(run.results), reference, check_exact=True)
