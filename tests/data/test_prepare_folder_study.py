"""The tiny study end to end on a prepared folder dataset with a varying number of annotators per image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prepare_folder_fixture import build_folder
from rich.console import Console

from uqseg.data.prepare.folder import prepare_folder
from uqseg.experiments.command import benchmark_command


def test_tiny_study_on_a_prepared_folder(tmp_path: Path) -> None:
    """Raters miss images in every split; the study trains, predicts, evaluates and reports under the dataset's
    own name, and every result row is computed (status ok)."""
    missing = {"r2": {0, 3, 6, 9}, "r3": {5, 10, 11}}
    source = build_folder(tmp_path / "skin", patients=6, slices=2, kinds=("png8", "npy"), missing=missing, side=16)
    data = tmp_path / "prepared"
    manifest = prepare_folder(source, data, echo=lambda line: None)
    assert sum(int(k) < 3 for split in ("val", "test") for k in manifest["annotators_per_image"][split]) >= 1
    run = benchmark_command(preset="tiny", datasets=[f"folder:{data}"], combos=["softmax+dropout"],
                            out=tmp_path / "run", progress=False, console=Console(file=None, quiet=True))
    results = pd.read_parquet(run.results)
    assert set(results["dataset"]) == {"skin"}
    assert set(results["split"]) == {"test", "ood-noise", "ood-blur", "ood-contrast", "ood-jpeg"}
    assert (results["status"] == "ok").all()
    dice = results.query("split == 'test' and metric == 'dice'")["value"]
    assert len(dice) == 1 and 0.0 <= float(dice.iloc[0]) <= 1.0
    assert np.isfinite(results.query("task == 'AMB'")["value"]).all()
    assert run.report is not None and Path(run.report).is_file()
