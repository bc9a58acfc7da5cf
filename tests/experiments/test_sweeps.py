"""The open-question sweeps (severity, width, epoch) through the step DAG on the tiny preset: steps, rows, keys."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from helpers import planned_graphs

from uqseg.errors import ConfigError
from uqseg.experiments.combination import combination_config
from uqseg.experiments.presets import resolve_config
from uqseg.experiments.runner import run_benchmark
from uqseg.experiments.steps import read_step_log
from uqseg.experiments.study import data_steps, read_data_record, study_graph
from uqseg.experiments.sweep_rows import SIZE_METRIC, SIZE_TASK
from uqseg.experiments.sweeps import base_severities, epoch_count, scaled_width, sweep_combos
from uqseg.nn.config import ModelConfig
from uqseg.nn.sizes import parameter_counts
from uqseg.report.sweeps import epoch_table, severity_table, width_table
from uqseg.results import load_results

COMBO = "softmax+ensemble"
BASE = ["report=false", "train.epochs=1"]
SWEEPS = ["sweeps.run=[severity,width,epoch]", "sweeps.severity.factors=[0.5,1,2]", "sweeps.width.factors=[0.5,1]"]


def _config(overrides: list[str]):
    return resolve_config("tiny", datasets=["synthetic-lidc"], combos=[COMBO], overrides=[*BASE, *overrides])


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The study alone, then the same run directory with both sweeps switched on."""
    run_dir = tmp_path_factory.mktemp("sweeps")
    run_benchmark(_config([]), run_dir, progress=False)
    main = load_results(run_dir)
    n_events = len(read_step_log(run_dir))
    run_benchmark(_config(SWEEPS), run_dir, progress=False)
    return {"dir": run_dir, "main": main, "results": load_results(run_dir),
            "events": read_step_log(run_dir)[n_events:]}


@pytest.mark.slow  # one tiny run twice, about 15 s
def test_switching_sweeps_on_redoes_no_study_step(swept) -> None:
    events = swept["events"]
    main_steps = {e["name"] for e in events if e["status"] == "skipped"}
    done = {e["name"] for e in events if e["status"] == "done"}
    assert {"train/synthetic-lidc/seed0/softmax/shared", f"metrics/synthetic-lidc/seed0/{COMBO}"} <= main_steps
    study = ("predict/synthetic-lidc", "metrics/synthetic-lidc", "train/synthetic-lidc/seed0/softmax")
    assert not any(n.startswith(study) for n in done)
    assert "results" in done  # the table gains the sweep rows
    assert any(n.startswith("predict/severity-0.5/") for n in done)
    assert any(n.startswith("train/synthetic-lidc/seed0/width-0.5/") for n in done)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The study's graph without and with the sweeps, planned after running the data steps alone."""
    return planned_graphs(_config([]), _config(SWEEPS), tmp_path_factory.mktemp("planned"))


def test_study_keys_do_not_depend_on_the_sweeps(planned) -> None:
    keys_off = {s.name: s.key for s in planned["off"]}
    keys_on = {s.name: s.key for s in planned["on"]}
    shared = [n for n in keys_off if n not in ("results", "report")]
    assert shared and all(keys_on[n] == keys_off[n] for n in shared)
    assert keys_on["results"] != keys_off["results"]


def test_sweep_steps_planned(planned) -> None:
    """Severity: a data step per level but ×1, OOD predictions only, no training; width: ×0.5 trains its own
    runs (shared + member 2), ×1 reuses the study's runs and predictions; epoch: with one configured epoch every
    fraction is the study's run (one level); one metrics step per level."""
    added = {s.name for s in planned["on"]} - {s.name for s in planned["off"]}
    combo = f"synthetic-lidc/seed0/{COMBO}"
    assert {n for n in added if n.startswith("data/")} == {"data/synthetic-lidc/severity-0.5",
                                                           "data/synthetic-lidc/severity-2"}
    assert {n for n in added if n.startswith("predict/severity-0.5/")} == {
        f"predict/severity-0.5/{combo}/ood-{s}" for s in ("noise", "blur", "contrast", "jpeg")}
    assert {n for n in added if n.startswith("train/")} == {"train/synthetic-lidc/seed0/width-0.5/softmax/shared",
                                                            "train/synthetic-lidc/seed0/width-0.5/softmax/ensemble-2"}
    assert not any(n.startswith("predict/width-1/") for n in added)
    assert {n for n in added if n.startswith("metrics/")} == {
        f"metrics/{level}/{combo}"
        for level in ("severity-0.5", "severity-1", "severity-2", "width-0.5", "width-1", "epoch-0.2")}
    on = {s.name: s for s in planned["on"]}
    assert on[f"metrics/severity-2/{combo}"].params["labels"] == {
        "ood-noise": "severity:ood-noise:8", "ood-contrast": "severity:ood-contrast:6",
        "ood-jpeg": "severity:ood-jpeg:8"}  # blur is at the cap at ×1 already
    assert on[f"metrics/severity-2/{combo}"].params["sources"]["ood-blur"].endswith(f"{COMBO}/ood-blur.h5")


@pytest.mark.slow
def test_main_rows_are_unchanged(swept) -> None:
    res = swept["results"]
    main = res[res.analysis == "main"].reset_index(drop=True)
    pd.testing.assert_series_equal(main.value, swept["main"].value)


@pytest.mark.slow
def test_severity_rows(swept) -> None:
    """Each OOD split at factor × its severity, capped at MAX_SEVERITY (blur is at the cap already, so ×2 adds
    nothing for it); factor 1 reproduces the study's own rows; ID rows are not repeated."""
    res = swept["results"]
    sev = res[res.analysis.str.startswith("severity:")]
    assert set(sev.split) == {"ood-noise", "ood-blur", "ood-contrast", "ood-jpeg"}
    assert set(sev.analysis) == {
        "severity:ood-noise:3", "severity:ood-noise:6", "severity:ood-noise:8",
        "severity:ood-blur:4", "severity:ood-blur:8",
        "severity:ood-contrast:1.5", "severity:ood-contrast:3", "severity:ood-contrast:6",
        "severity:ood-jpeg:2", "severity:ood-jpeg:4", "severity:ood-jpeg:8"}
    names = ["split", "task", "measure", "metric", "aggregation"]
    same = sev[sev.analysis == "severity:ood-noise:6"].merge(res[res.analysis == "main"], on=names)
    assert len(same) and np.allclose(same.value_x, same.value_y, equal_nan=True)
    other = sev[sev.analysis == "severity:ood-noise:3"].merge(res[res.analysis == "main"], on=names)
    maps = other[other.task == "COLLAPSE"]
    assert not np.allclose(maps.value_x, maps.value_y, rtol=1e-6, atol=0)  # the milder shift gives other maps
    assert sev.ci_low.notna().any() and res[res.analysis == "main"].ci_low.notna().any()


@pytest.mark.slow
def test_width_rows(swept) -> None:
    res = swept["results"]
    size = res[(res.task == SIZE_TASK) & (res.metric == SIZE_METRIC)].set_index("analysis").value
    record = read_data_record(swept["dir"], "synthetic-lidc")
    model = ModelConfig(**{**_config([]).model.model_dump(), **record.geometry})
    assert size["width:1"] == parameter_counts(model)["softmax"]
    assert size["width:0.5"] == parameter_counts(model.model_copy(update={"base_width": 4}))["softmax"]
    names = ["split", "task", "measure", "metric", "aggregation"]
    same = res[res.analysis == "width:1"].merge(res[res.analysis == "main"], on=names)
    assert len(same) == (res.analysis == "main").sum()  # ×1 reuses the study's predictions: every row, equal
    assert np.allclose(same.value_x, same.value_y, equal_nan=True)
    half = res[res.analysis == "width:0.5"].merge(res[res.analysis == "main"], on=names)
    assert not np.allclose(half.value_x, half.value_y, rtol=1e-6, atol=0, equal_nan=True)


@pytest.mark.parametrize(("base", "factor", "multiple", "width"),
                         [(32, 0.25, 4, 8), (32, 2.0, 4, 64), (8, 0.25, 2, 2), (8, 0.1, 2, 2), (10, 0.5, 4, 4),
                          (12, 0.5, 4, 8)])
def test_scaled_width(base: int, factor: float, multiple: int, width: int) -> None:
    assert scaled_width(base, factor, multiple) == width


def test_sweep_config_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"sweeps\.run"):
        _config(["sweeps.run=[epochs]"])
    with pytest.raises(ConfigError, match="positive"):
        _config(["sweeps.width.factors=[0,1]"])
    with pytest.raises(ConfigError, match="twice"):
        _config(["sweeps.severity.factors=[1,1]"])
    cfg = _config(["sweeps.severity.combos=[ssn+swag]"])
    with pytest.raises(ConfigError, match="not a combination of the study"):
        sweep_combos(cfg, "severity")
    assert sweep_combos(_config(["sweeps.width.combos=[ssn+swag]"]), "width") == [("ssn", "swag")]
    assert sweep_combos(_config([]), "severity") == [("softmax", "ensemble")]
    assert math.isclose(_config(SWEEPS).sweeps.severity.factors[-1], 2.0)


@pytest.mark.slow
def test_report_tables_of_a_swept_run(swept) -> None:
    res = swept["results"]
    width = width_table(res)
    assert set(width.factor) == {0.5, 1.0} and set(width.task) == {"OODD", "AMB", "CAL"}
    size = res[res.task == SIZE_TASK].set_index("analysis").value
    assert (width[width.factor == 0.5].parameters == size["width:0.5"]).all()
    severity = severity_table(res)
    assert len(severity) == 11 and severity[["eu_auroc", "au_auroc"]].notna().all().all()


def test_one_combination_runs_leave_the_sweeps_out() -> None:
    """``uqseg train``/``evaluate`` build no results table, which the sweeps' rows join."""
    cfg = combination_config("synthetic-lidc", COMBO, preset="tiny", overrides=["sweeps.run=[severity,width]"])
    assert cfg.sweeps.run == []


@pytest.mark.parametrize(("epochs", "fraction", "n"), [(8, 0.2, 2), (8, 0.4, 3), (8, 0.8, 6), (8, 1.0, 8), (2, 0.2, 1),
                                                       (2, 0.4, 1), (10, 0.25, 3)])
def test_epoch_count(epochs: int, fraction: float, n: int) -> None:
    assert epoch_count(epochs, fraction) == n


def test_epoch_sweep_planned(planned) -> None:
    """Two configured epochs at fractions ½ and 1: one snapshot run per training run (full length, snapshots after
    epochs 1 and 2), epoch 1 predicted from its snapshots; the full length is the study's run and predictions
    (tests/experiments/test_sweeps_training.py checks the snapshots themselves)."""
    cfg = _config(["train.epochs=2", "sweeps.run=[epoch]", "sweeps.epoch.fractions=[0.5,1]"])
    graph = study_graph(cfg, planned["dir"], data_steps(cfg))
    names = {s.name for s in graph}
    combo = f"synthetic-lidc/seed0/{COMBO}"
    runs = "train/synthetic-lidc/seed0/epoch-snapshots/softmax"
    assert {n for n in names if "/epoch-" in n and n.startswith("train/")} == {f"{runs}/shared", f"{runs}/ensemble-2"}
    assert graph[f"{runs}/shared"].params["run"].train.epochs == 2
    assert f"predict/epoch-0.5/{combo}/test" in names and not any(n.startswith("predict/epoch-1/") for n in names)
    assert graph[f"metrics/epoch-1/{combo}"].params["labels"]["test"] == "epoch:2"
    assert graph[f"metrics/epoch-0.5/{combo}"].params["labels"]["val"] == "epoch:1"


@pytest.mark.slow
def test_epoch_rows_of_a_swept_run(swept) -> None:
    """With one configured epoch every fraction is that epoch: one level, the study's own predictions."""
    res = swept["results"]
    assert {a for a in res.analysis.unique() if a.startswith("epoch:")} == {"epoch:1"}
    table = epoch_table(res)
    assert set(table.epochs) == {1} and set(table.task) == {"OODD", "AMB", "CAL"}


def test_prepared_datasets_have_no_severity_levels(tmp_path) -> None:
    """A dataset read from a prepared root has fixed shifts: the severity sweep skips it without opening it."""
    assert base_severities(tmp_path, {"dataset": "lidc", "root": str(tmp_path / "absent"), "options": {}}) == {}
