"""The open-question analyses in a study (docs/method.md "Open questions"): ``analyses: [eu_rescaling, au_eu_rank]``
adds rows beside the main ones, switching them on redoes only their own steps, and the main rows stay as they were."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from uqseg.errors import ConfigError
from uqseg.experiments.presets import resolve_config
from uqseg.experiments.runner import run_benchmark
from uqseg.experiments.steps import read_step_log
from uqseg.layout import RunLayout
from uqseg.report.tables import delta_table
from uqseg.results import load_replicates, load_results
from uqseg.vocabulary import main_rows

DATASET = "synthetic-lidc"
COMBOS = ["ssn+dropout"]
ROW = ["dataset", "seed", "au", "eu", "split", "task", "measure", "metric", "aggregation"]


def _config(*overrides: str):
    return resolve_config("tiny", datasets=[DATASET], combos=COMBOS, overrides=["report=false", *overrides])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One tiny run without the analyses, then the same run directory with both switched on."""
    run_dir = tmp_path_factory.mktemp("analyses")
    run_benchmark(_config(), run_dir, progress=False)
    before = load_results(run_dir)
    events = len(read_step_log(run_dir))
    run_benchmark(_config("analyses=eu_rescaling,au_eu_rank"), run_dir, progress=False)
    ran = {e["kind"] for e in read_step_log(run_dir)[events:] if e.get("status") == "done"}
    return {"dir": run_dir, "before": before, "after": load_results(run_dir), "ran": ran}


def _maps(run_dir, split: str, name: str, eu: str = "dropout") -> np.ndarray:
    with h5py.File(RunLayout(run_dir).prediction_file(DATASET, 0, "ssn", eu, split), "r") as f:
        return f[name][...].astype(np.float64)


@pytest.mark.slow  # one tiny run twice, about 15 s
def test_switching_the_analyses_on_redoes_only_their_steps_and_keeps_the_main_rows(runs) -> None:
    assert runs["ran"] == {"analysis", "results"}
    before, after = runs["before"], runs["after"]
    assert set(before.analysis) == {"main"}
    pd.testing.assert_frame_equal(main_rows(after), before)
    pd.testing.assert_frame_equal(delta_table(after), delta_table(before))
    assert set(after.analysis) == {"main", "au_eu_rank", "eu_rescaled:mean_ratio", "eu_rescaled:search:CAL",
                                   "eu_rescaled:search:CAL_NLL", "eu_rescaled:search:AMB"}
    assert not after.duplicated([*ROW, "analysis"]).any()
    replicates = load_replicates(runs["dir"])
    assert set(replicates.analysis) == set(after.analysis)
    rank = replicates[replicates.analysis == "au_eu_rank"].filter(regex=r"^b\d+$")
    assert rank.isna().all().all()  # no replicates for the rank correlation


@pytest.mark.slow  # one tiny run twice, about 15 s
def test_rank_rows_are_spearman_between_the_stored_au_and_eu(runs) -> None:
    rows = runs["after"]
    rank = rows[(rows.analysis == "au_eu_rank") & (rows.eu == "dropout")].set_index(["split", "aggregation"]).value
    splits = ["test", "ood-noise", "ood-blur", "ood-contrast", "ood-jpeg"]
    assert set(rank.index) == {(s, a) for s in splits for a in ("pixel", "pixel_image", "image")}
    for split in splits:
        au, eu = _maps(runs["dir"], split, "au"), _maps(runs["dir"], split, "eu")
        assert rank[(split, "pixel")] == pytest.approx(spearmanr(au.ravel(), eu.ravel()).statistic, abs=1e-9)
        assert rank[(split, "image")] == pytest.approx(spearmanr(au.mean((1, 2)), eu.mean((1, 2))).statistic)
    assert rows[rows.analysis == "au_eu_rank"].ci_low.isna().all()


@pytest.mark.slow  # one tiny run twice, about 15 s
def test_rescaled_rows_with_the_validation_factor_and_paired_intervals(runs) -> None:
    rows = runs["after"]
    name = "eu_rescaled:mean_ratio"
    dropout = rows[rows.eu == "dropout"]
    resc = dropout[dropout.analysis == name].set_index(ROW[4:]).value
    main = dropout[dropout.analysis == "main"].set_index(ROW[4:]).value
    au, eu = _maps(runs["dir"], "val", "au"), _maps(runs["dir"], "val", "eu")
    assert resc[("val", "RESCALE", "EU", "eu_factor", "none")] == pytest.approx(au.sum() / eu.sum(), rel=1e-5)
    assert {k[2] for k in resc.index} == {"TU", "EU", "EU/AU"}
    for key, value in resc.items():  # EU' = f·EU: AUROC and NCC of EU ignore the scale
        if key[2] == "EU" and key[1] in ("OODD", "AMB"):
            assert value == pytest.approx(main[key], abs=1e-9), key
    tu = ("test", "AMB", "TU", "ncc", "none")
    assert resc[tu] != pytest.approx(main[tu], abs=1e-6)
    ok = dropout[(dropout.analysis == name) & (dropout.task != "RESCALE") & np.isfinite(dropout.value)]
    assert ok.ci_low.notna().all() and (ok.ci_low <= ok.value + 1e-9).all() and (ok.value <= ok.ci_high + 1e-9).all()
    after = delta_table(rows, analysis=name).set_index(["eu", "task", "group"]).delta
    plain = delta_table(rows).set_index(["eu", "task", "group"]).delta
    for task in ("OODD", "AMB"):  # Δ of these tasks does not involve TU (docs/method.md "Open questions")
        assert after.xs(task, level="task").loc["dropout"].to_numpy() == pytest.approx(
            plain.xs(task, level="task").loc["dropout"].to_numpy(), abs=1e-9)


def test_the_analyses_key_is_checked() -> None:
    assert _config("analyses=au_eu_rank").analyses == ["au_eu_rank"]
    assert _config().analyses == []
    with pytest.raises(ConfigError, match="unknown analyses"):
        _config("analyses=[eu_rescaling, sweeps]")
