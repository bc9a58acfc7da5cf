"""Figure data: seed means with CIs, collapse, the OOD aggregation ablation, segmentation, the oracle NCC, statuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from uqseg.metrics import entanglement
from uqseg.report.figures.style import hidden
from uqseg.report.frames import (
    ablation_table,
    collapse_table,
    coverage,
    mean_ci,
    oracle_table,
    over_seeds,
    seed_mean,
    segmentation_vs_performance,
    status_summary,
)
from uqseg.report.tables import delta_table

COLS = ["dataset", "seed", "au", "eu", "split", "task", "measure", "metric", "aggregation", "value", "status"]


def rows(*items: tuple) -> pd.DataFrame:
    """Rows given as (dataset, seed, au, eu, split, task, measure, metric, aggregation, value)."""
    return pd.DataFrame([(*r, "ok" if np.isfinite(r[-1]) else "undefined: test") for r in items], columns=COLS)


def test_mean_ci_equals_scipy_t_interval():
    v = [2.0, 3.5, 4.0, 1.0]
    mean, half, n = mean_ci(v)
    low, high = stats.t.interval(0.95, len(v) - 1, loc=np.mean(v), scale=stats.sem(v))
    assert (mean, n) == (pytest.approx(2.625), 4) and half == pytest.approx((high - low) / 2)
    assert mean_ci([3.0]) == (3.0, 0.0, 1)
    assert np.isnan(mean_ci([1.0, np.nan])[0])  # a failed seed is not dropped silently
    df = pd.DataFrame({"k": ["a", "a", "b"], "seed": [0, 1, 0], "v": [1.0, 3.0, 5.0]})
    out = over_seeds(df, ["k"], "v").set_index("k")
    assert out.loc["a", "mean"] == 2.0 and out.loc["b", "ci"] == 0.0 and out.loc["a", "n_seeds"] == 2
    assert out.loc["a", "ci"] == pytest.approx(stats.t.ppf(0.975, 1) * np.std([1, 3], ddof=1) / np.sqrt(2))


def test_collapse_averages_ood_splits_per_aggregation():
    r = rows(
        ("d", 0, "ssn", "swag", "test", "COLLAPSE", "EU/AU", "eu_au_ratio", "border", 0.2),
        ("d", 0, "ssn", "swag", "ood-a", "COLLAPSE", "EU/AU", "eu_au_ratio", "border", 0.3),
        ("d", 0, "ssn", "swag", "ood-b", "COLLAPSE", "EU/AU", "eu_au_ratio", "border", 0.5),
        ("d", 0, "ssn", "swag", "test", "COLLAPSE", "EU/AU", "eu_au_ratio", "image", 9.0),
        ("d", 0, "ssn", "swag", "val", "COLLAPSE", "EU/AU", "eu_au_ratio", "border", 9.0),
    )
    c = collapse_table(r).set_index("group").value
    assert c["ID"] == pytest.approx(0.2) and c["OOD"] == pytest.approx(0.4) and len(c) == 2
    assert collapse_table(r, "image").set_index("group").value["ID"] == 9.0


def test_ablation_gives_auroc_and_delta_per_strategy():
    items = []
    for split in ("ood-a", "ood-b"):
        for agg, eu, au in (("border", 0.9, 0.6), ("image", 0.6, 0.6)):
            items += [("d", 0, "ssn", "swag", split, "OODD", "EU", "auroc", agg, eu),
                      ("d", 0, "ssn", "swag", split, "OODD", "AU", "auroc", agg, au)]
    a = ablation_table(rows(*items), strategies=("image", "border")).set_index("strategy")
    assert a.loc["border", "u_correct"] == pytest.approx(0.9) and a.loc["border", "u_wrong"] == pytest.approx(0.6)
    assert a.loc["border", "delta"] == pytest.approx(entanglement(0.9, 0.6))
    assert a.loc["image", "delta"] == pytest.approx(0.0)


def test_segmentation_next_to_task_performance():
    r = rows(
        ("d", 0, "ssn", "swag", "test", "SEG", "pred", "dice", "none", 0.8),
        ("d", 0, "ssn", "swag", "test", "SEG", "pred", "ged_dice", "none", 0.3),
        ("d", 0, "ssn", "swag", "ood-a", "SEG", "pred", "dice", "none", 0.1),
        ("d", 0, "ssn", "swag", "test", "AMB", "AU", "ncc", "none", 0.55),
        ("d", 0, "ssn", "swag", "test", "AMB", "EU", "ncc", "none", 0.2),
        ("d", 0, "ssn", "swag", "ood-a", "AMB", "AU", "ncc", "none", 0.1),
        ("d", 0, "ssn", "swag", "ood-a", "AMB", "EU", "ncc", "none", 0.1),
    )
    s = segmentation_vs_performance(r, delta_table(r))
    assert len(s) == 1  # AMB on the ID test only
    row = s.iloc[0]
    assert (row.task, row.performance, row.dice, row.ged_dice) == ("AMB", pytest.approx(0.55), 0.8, 0.3)


def test_oracle_table_only_for_datasets_with_an_oracle():
    r = rows(
        ("syn", 0, "ssn", "swag", "test", "AMB", "AU", "ncc", "none", 0.4),
        ("syn", 0, "ssn", "swag", "test", "AMB", "AU", "ncc_oracle", "none", 0.7),
        ("syn", 0, "ssn", "swag", "ood", "AMB", "AU", "ncc", "none", 0.2),
        ("syn", 0, "ssn", "swag", "ood", "AMB", "AU", "ncc_oracle", "none", 0.5),
        ("syn", 0, "softmax", "dropout", "test", "AMB", "AU", "ncc", "none", 0.1),
        ("syn", 0, "softmax", "dropout", "test", "AMB", "AU", "ncc_oracle", "none", 0.2),
        ("real", 0, "ssn", "swag", "test", "AMB", "AU", "ncc", "none", 0.4),
    )
    full = oracle_table(r)
    assert len(full) == 3  # no phantom rows for combinations that were not run (ssn+dropout, softmax+swag)
    o = full[full.au == "ssn"].set_index(["dataset", "group", "measure"])
    assert list(o.index.get_level_values(0).unique()) == ["syn"]
    assert (o.loc[("syn", "ID", "AU"), "ncc"], o.loc[("syn", "ID", "AU"), "ncc_oracle"]) == (0.4, 0.7)
    assert o.loc[("syn", "OOD", "AU"), "ncc_oracle"] == 0.5
    assert oracle_table(r[r.dataset == "real"]).empty


def test_status_summary_and_coverage():
    r = rows(
        ("d", 0, "ssn", "swag", "ood", "OODD", "EU", "auroc", "border", np.nan),
        ("d", 0, "ssn", "swag", "ood", "OODD", "AU", "auroc", "border", np.nan),
        ("d", 0, "ssn", "swag", "test", "SEG", "pred", "dice", "none", 0.5),
        ("d", 1, "softmax", "dropout", "test", "SEG", "pred", "dice", "none", 0.5),
    )
    s = status_summary(r)
    assert s.to_dict("records") == [{"dataset": "d", "task": "OODD", "metric": "auroc",
                                     "status": "undefined: test", "rows": 2}]
    cov = coverage(r, [("ssn", "swag"), ("softmax", "dropout")]).set_index("seed")
    assert cov.loc[0, "missing"] == "softmax+dropout" and cov.loc[1, "missing"] == "ssn+swag"
    assert status_summary(r.dropna()).empty


def test_hidden_counts_what_a_figure_cannot_show():
    df = pd.DataFrame({"x": [1.0, np.nan, 2.0, 0.0], "y": [1.0, 1.0, np.inf, 3.0]})
    assert hidden(df) == "\n(2 not shown: NaN)"
    assert hidden(df.x, positive=True) == "\n(2 not shown: NaN or ≤ 0)"
    assert hidden(df.iloc[:1]) == ""


def test_seed_mean_keeps_a_failed_seed_visible():
    df = pd.DataFrame({"k": ["a", "a", "b", "b"], "x": [1.0, 3.0, 2.0, np.nan], "y": [0.0, 1.0, 1.0, 1.0]})
    m = seed_mean(df, ["k"], ["x", "y"]).set_index("k")
    assert (m.loc["a", "x"], m.loc["a", "y"], m.loc["a", "n_seeds"]) == (2.0, 0.5, 2)
    assert np.isnan(m.loc["b", "x"]) and m.loc["b", "y"] == 1.0
