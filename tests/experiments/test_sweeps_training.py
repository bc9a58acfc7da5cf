"""The disentanglement sweeps and the snapshot-based epoch sweep through the step DAG on the tiny preset: their
steps, keys, rows and resumption, and the disentanglement error's rows from hand-made level means."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import planned_graphs

from uqseg.errors import ConfigError
from uqseg.experiments.disentanglement_rows import disentanglement_table, seed_rows
from uqseg.experiments.disentanglement_sweep import aleatoric_levels, base_ambiguity
from uqseg.experiments.presets import resolve_config
from uqseg.experiments.runner import run_benchmark
from uqseg.experiments.steps import read_step_log
from uqseg.experiments.study import data_steps, study_graph
from uqseg.experiments.sweeps import snapshot_levels
from uqseg.report.disentanglement import de_table, level_table, ordering_correlation, orderings
from uqseg.report.sweeps import epoch_gaps, epoch_table
from uqseg.results import load_results
from uqseg.training.callbacks import snapshot_directory
from uqseg.training.checkpoint import EMA_FILE, read_weights
from uqseg.training.data import subset_indices
from uqseg.training.plan import run_directory

COMBO = "softmax+ensemble"
BASE = ["report=false", "train.epochs=2"]
SWEEPS = ["sweeps.run=[epoch,disentanglement]", "sweeps.epoch.fractions=[0.5,1]",
          "sweeps.disentanglement.ambiguity=[0.5,1]", "sweeps.disentanglement.fractions=[0.5,1]"]
DATASET = "synthetic-lidc"


def _config(overrides: list[str], combos: tuple[str, ...] = (COMBO,)):
    return resolve_config("tiny", datasets=[DATASET], combos=list(combos), overrides=[*BASE, *overrides])


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The study's graph without and with both sweeps, planned after running the data steps alone."""
    return planned_graphs(_config([]), _config(SWEEPS), tmp_path_factory.mktemp("planned"))


def test_study_keys_do_not_change(planned) -> None:
    off = {s.name: s.key for s in planned["off"]}
    on = {s.name: s.key for s in planned["on"]}
    assert all(on[n] == k for n, k in off.items() if n not in ("results", "report"))
    assert {s.name: s.key for s in planned["again"]} == on  # planning is deterministic


def test_disentanglement_steps_planned(planned) -> None:
    """Ambiguity ×0.5: its own data step, runs and test predictions; fraction ½: its own runs on the study's data;
    ×1 and fraction 1 are the study's runs and test predictions; one rows step per combination."""
    added = {s.name for s in planned["on"]} - {s.name for s in planned["off"]}
    combo = f"{DATASET}/seed0/{COMBO}"
    assert {n for n in added if n.startswith("data/")} == {f"data/{DATASET}/aleatoric-0.5"}
    for level in ("aleatoric-0.5", "epistemic-0.5"):
        assert {n for n in added if n.startswith(f"train/{DATASET}/seed0/{level}/")} == {
            f"train/{DATASET}/seed0/{level}/softmax/shared", f"train/{DATASET}/seed0/{level}/softmax/ensemble-2"}
        assert {n for n in added if n.startswith(f"predict/{level}/")} == {f"predict/{level}/{combo}/test"}
    assert not any(n.startswith(("predict/aleatoric-1/", "predict/epistemic-1/", "train/" + DATASET + "/seed0/"
                                 "aleatoric-1/", f"train/{DATASET}/seed0/epistemic-1/")) for n in added)
    graph = planned["on"]
    rows = graph[f"metrics/disentanglement/{DATASET}/{COMBO}"]
    assert f"predict/{combo}/test" in rows.deps  # level 1 reads the study's own test predictions
    assert {(lv["sweep"], lv["level"]) for lv in rows.params["levels"]} == {
        ("aleatoric", 0.5), ("aleatoric", 1.0), ("epistemic", 0.5), ("epistemic", 1.0)}
    shared = graph[f"train/{DATASET}/seed0/epistemic-0.5/softmax/shared"].params["run"]
    assert shared.train.train_fraction == 0.5
    ambiguous = graph[f"train/{DATASET}/seed0/aleatoric-0.5/softmax/shared"]
    assert ambiguous.deps == (f"data/{DATASET}/aleatoric-0.5",)
    assert ambiguous.params["run"].dataset_options["ambiguity"] == 0.5


def test_epoch_snapshot_steps_planned(planned) -> None:
    """Two epochs at fractions ½ and 1: one full-length run per training run writes snapshots after epochs 1 and 2;
    epoch 1 is predicted from them, epoch 2 is the study's own run and predictions."""
    graph = planned["on"]
    names = {s.name for s in graph}
    combo = f"{DATASET}/seed0/{COMBO}"
    runs = f"train/{DATASET}/seed0/epoch-snapshots/softmax"
    assert {n for n in names if "/epoch-" in n and n.startswith("train/")} == {f"{runs}/shared", f"{runs}/ensemble-2"}
    run = graph[f"{runs}/shared"].params["run"]
    assert run.train.epochs == 2 and run.train.snapshot_epochs == (1, 2)
    predict = graph[f"predict/epoch-0.5/{combo}/test"]
    assert predict.params["snapshot"] == 1 and set(predict.deps) >= {f"{runs}/shared", f"{runs}/ensemble-2"}
    assert not any(n.startswith("predict/epoch-1/") for n in names)
    assert graph[f"metrics/epoch-1/{combo}"].params["labels"]["test"] == "epoch:2"
    assert graph[f"metrics/epoch-0.5/{combo}"].params["labels"]["val"] == "epoch:1"


def test_swag_snapshot_before_collection_is_not_evaluated(planned) -> None:
    cfg = _config(["sweeps.run=[epoch]", "sweeps.epoch.fractions=[0.5,1]", "train.swag_epochs=1"],
                  combos=("softmax+swag",))
    graph = study_graph(cfg, planned["dir"], data_steps(cfg))
    step = graph[f"metrics/epoch-0.5/{DATASET}/seed0/softmax+swag"]
    assert step.params["status"].startswith("undefined: no SWAG posterior after epoch 1")
    assert not any(s.name.startswith(("predict/epoch-0.5/", f"train/{DATASET}/seed0/epoch-snapshots/")) for s in graph)


def test_only_swag_snapshots_need_collected_epochs(planned) -> None:
    """SWAG collecting over the last epoch only leaves the other EU methods' early snapshots evaluated."""
    cfg = _config(["sweeps.run=[epoch]", "sweeps.epoch.fractions=[0.5,1]", "train.swag_epochs=1"])
    graph = study_graph(cfg, planned["dir"], data_steps(cfg))
    assert graph[f"metrics/epoch-0.5/{DATASET}/seed0/{COMBO}"].params["labels"]["test"] == "epoch:1"
    assert f"predict/epoch-0.5/{DATASET}/seed0/{COMBO}/test" in graph


def test_levels_without_metrics_are_left_out_of_the_epoch_table() -> None:
    keys = {"dataset": DATASET, "seed": 0, "au": "ssn", "eu": "swag"}
    gap = {**keys, "analysis": "epoch:1", "split": "test", "task": "EPOCH", "measure": "EU",
           "metric": "swag_posterior", "aggregation": "none", "value": np.nan, "status": "undefined: no SWAG posterior"}
    rows = [{**keys, "analysis": a, "split": "test", "task": "AMB", "measure": m, "metric": "ncc",
             "aggregation": "image", "value": v, "status": "ok"} for a in ("main", "epoch:2")
            for m, v in (("AU", 0.5), ("EU", 0.2))]
    res = pd.DataFrame([gap, *rows])
    assert set(epoch_table(res).epochs) == {2}
    assert "ssn+swag at 1 epochs" in epoch_gaps(res)


def test_sweep_combos_are_checked(planned) -> None:
    for sweep in ("epoch", "disentanglement"):
        cfg = _config([f"sweeps.run=[{sweep}]", f"sweeps.{sweep}.combos=[softmax+subensemble]"])
        with pytest.raises(ConfigError, match="ub-ensembles"):
            study_graph(cfg, planned["dir"], data_steps(cfg))
    with pytest.raises(ConfigError, match="at most 1"):
        _config(["sweeps.disentanglement.fractions=[0.5,2]"])


@pytest.mark.parametrize(("epochs", "fractions", "levels"),
                         [(8, [0.2, 0.4, 0.6, 0.8, 1.0], {2: 0.2, 3: 0.4, 5: 0.6, 6: 0.8, 8: 1.0}),
                          (2, [0.2, 0.4, 1.0], {1: 0.2, 2: 1.0})])
def test_snapshot_levels(epochs: int, fractions: list[float], levels: dict[int, float]) -> None:
    assert snapshot_levels(epochs, fractions) == levels


def test_aleatoric_levels() -> None:
    assert aleatoric_levels(1.0, [0.5, 1.0, 1.5, 2.0]) == [(0.5, 0.5), (1.0, 1.0), (1.5, 1.5)]  # 2 caps at 1.5
    assert aleatoric_levels(None, [0.5, 1.0]) == [] and aleatoric_levels(0.0, [0.5, 1.0]) == []


def test_prepared_datasets_have_no_aleatoric_sweep(tmp_path) -> None:
    assert base_ambiguity(tmp_path, {"dataset": "lidc", "root": str(tmp_path / "absent"), "options": {}}) is None


def test_training_subsets_are_nested_and_fixed() -> None:
    half, quarter = subset_indices(40, 0.5), subset_indices(40, 0.25)
    assert len(half) == 20 and len(quarter) == 10 and set(quarter) <= set(half)
    assert np.array_equal(half, subset_indices(40, 0.5)) and len(subset_indices(3, 0.1)) == 1
    assert np.array_equal(subset_indices(5, 1.0), np.arange(5))


def _means(aleatoric: list[tuple[float, float, float]], epistemic: list[tuple[float, float, float]],
           seed: int = 0) -> pd.DataFrame:
    rows = [{"seed": seed, "sweep": "aleatoric", "level": a, "au": u, "eu": e} for a, u, e in aleatoric]
    rows += [{"seed": seed, "sweep": "epistemic", "level": f, "au": u, "eu": e} for f, u, e in epistemic]
    return pd.DataFrame(rows)


def test_de_from_hand_made_level_means() -> None:
    """Spearman: u_a follows the ambiguity (ρ 1), u_e ranks [1, 3, 2] against it (ρ ½); u_e follows the shrinking
    data (ρ 1), u_a ranks [2, 1, 3] against −log fraction's [3, 2, 1] (ρ −½): DE = (0 + 0 + ½ + ½) / 4 = ¼."""
    means = _means([(0.5, 1.0, 0.1), (1.0, 2.0, 0.3), (1.5, 3.0, 0.2)],
                   [(0.25, 2.0, 0.3), (0.5, 1.0, 0.2), (1.0, 3.0, 0.1)])
    table = disentanglement_table(DATASET, "ssn", "swag", means, "spearman").set_index(["analysis", "measure"])
    assert table.loc[("disentanglement", "DE"), "value"] == pytest.approx(0.25)
    assert table.loc[("disentanglement", "EU~U_a"), "value"] == pytest.approx(0.5)
    assert table.loc[("disentanglement", "AU~U_e"), "value"] == pytest.approx(-0.5)
    assert table.loc[("disentanglement:epistemic:0.25", "EU"), "value"] == pytest.approx(0.3)
    assert set(table.task) == {"DISENT"} and (table.status == "ok").all()


def test_de_table_keeps_only_the_swept_combinations() -> None:
    means = _means([(0.5, 1.0, 0.1), (1.0, 2.0, 0.3)], [(0.5, 2.0, 0.3), (1.0, 3.0, 0.1)])
    rows = pd.concat([disentanglement_table(DATASET, "softmax", "ensemble", means, "pearson"),
                      disentanglement_table(DATASET, "ssn", "swag", means, "pearson")], ignore_index=True)
    table = de_table(rows)
    assert list(zip(table.au, table.eu, strict=True)) == [("softmax", "ensemble"), ("ssn", "swag")]
    assert len(level_table(rows)) == 8 and (table.status == "ok").all()


def test_de_without_an_aleatoric_sweep() -> None:
    keys = {"dataset": "lidc", "seed": 0, "au": "ssn", "eu": "swag"}
    rows = pd.DataFrame(seed_rows(keys, _means([], [(0.5, 1.0, 0.3), (1.0, 1.0, 0.1)]), "pearson", "no generator"))
    de = rows[rows.measure == "DE"].iloc[0]
    assert np.isnan(de.value) and "no generator" in de.status
    assert rows.set_index("measure").loc["EU~U_e", "value"] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The study alone, the same run directory with both sweeps switched on, then once more."""
    run_dir = tmp_path_factory.mktemp("swept")
    run_benchmark(_config([]), run_dir, progress=False)
    main = load_results(run_dir)
    run_benchmark(_config(SWEEPS), run_dir, progress=False)
    n_events = len(read_step_log(run_dir))
    run_benchmark(_config(SWEEPS), run_dir, progress=False)
    return {"dir": run_dir, "main": main, "results": load_results(run_dir),
            "again": read_step_log(run_dir)[n_events:]}


@pytest.mark.slow  # one tiny run and its sweeps, about 30 s
def test_a_second_run_does_nothing(swept) -> None:
    assert swept["again"] and {e["status"] for e in swept["again"]} == {"skipped"}


@pytest.mark.slow
def test_disentanglement_rows(swept) -> None:
    res = swept["results"]
    de = de_table(res)
    assert len(de) == 1 and np.isfinite(de.de).all() and 0 <= de.de.iloc[0] <= 1.5
    levels = level_table(res)
    assert set(zip(levels.sweep, levels.level, strict=True)) == {("aleatoric", 0.5), ("aleatoric", 1.0),
                                                                 ("epistemic", 0.5), ("epistemic", 1.0)}
    assert (levels.au_mean > 0).all() and (levels.eu_mean > 0).all()
    one = levels.set_index(["sweep", "level"])
    assert one.loc[("aleatoric", 1.0)].equals(one.loc[("epistemic", 1.0)])  # both the study's own predictions
    assert not np.isclose(one.loc[("epistemic", 0.5), "eu_mean"], one.loc[("epistemic", 1.0), "eu_mean"], rtol=1e-6,
                          atol=0)
    order = orderings(res, de)
    assert len(order) == 1 and order.de_rank.iloc[0] == 1 and np.isfinite(order.delta_AMB).all()
    assert ordering_correlation(order).spearman.isna().all()  # one combination: no rank correlation


@pytest.mark.slow
def test_epoch_snapshots_are_one_run(swept) -> None:
    """The snapshot run's last snapshot holds the study's final EMA weights exactly; the earlier one differs, and so
    do its rows."""
    cfg = _config(SWEEPS)
    graph = study_graph(cfg, swept["dir"], data_steps(cfg))
    for member in ("shared", "ensemble-2"):
        snap = graph[f"train/{DATASET}/seed0/epoch-snapshots/softmax/{member}"].params["run"]
        study = graph[f"train/{DATASET}/seed0/softmax/{member}"].params["run"]
        final = read_weights(run_directory(swept["dir"], study) / EMA_FILE)
        folder = run_directory(swept["dir"], snap)
        last = read_weights(snapshot_directory(folder, 2) / EMA_FILE)
        first = read_weights(snapshot_directory(folder, 1) / EMA_FILE)
        assert all(torch.equal(final[k], last[k]) for k in final)
        assert not all(torch.equal(final[k], first[k]) for k in final)
    res = swept["results"]
    table = epoch_table(res)
    assert set(table.epochs) == {1, 2}
    wide = table.pivot_table(index="task", columns="epochs", values="delta")
    assert not np.allclose(wide[1], wide[2])
    main = res[res.analysis == "main"].reset_index(drop=True)
    pd.testing.assert_series_equal(main.value, swept["main"].value)
    assert epoch_gaps(res) == ""
