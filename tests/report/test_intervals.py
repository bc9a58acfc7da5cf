"""Intervals through the report: Δ from paired replicates, CAL's per-shift minimum, rank intervals, Kendall's W,
reproducibility across seeds, and the report page (docs/method.md §2, §3)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import friedmanchisquare

sys.path.insert(0, str(Path(__file__).parent))

from fake_run import fake_replicates, fake_results

from uqseg.metrics.bootstrap import percentile_interval
from uqseg.metrics.entanglement import entanglement_values
from uqseg.metrics.ranking import kendall_w
from uqseg.report.reproducibility import (
    _pair_agreement,
    bootstrap_concordance,
    indistinguishable,
    resolved_pairs,
    seed_reproducibility,
)
from uqseg.report.tables import delta_table, derive, rank_grid, ranks_from_deltas

COLS = ["dataset", "seed", "au", "eu", "split", "task", "measure", "metric", "aggregation", "value", "status"]


def test_kendall_w_hand_cases_and_friedman_reference():
    assert kendall_w([[1, 2, 3], [1, 2, 3], [1, 2, 3]]) == pytest.approx(1.0)
    assert kendall_w([[1, 2, 3], [3, 2, 1]]) == pytest.approx(0.0)
    # ties: R = (2, 4.5, 5.5), S = 6.5, Σ(t³ − t) = 6, W = 12·6.5 / (4·24 − 2·6) = 78/84
    assert kendall_w([[1, 2.5, 2.5], [1, 2, 3]]) == pytest.approx(78 / 84)
    rng = np.random.default_rng(0)
    ranks = rng.integers(0, 4, (6, 8)).astype(float)  # raw scores with many ties; W ranks them per rater
    m, n = ranks.shape
    chi2 = friedmanchisquare(*ranks.T).statistic  # scipy's tie-corrected Friedman statistic = m(n − 1)W
    assert kendall_w(ranks) == pytest.approx(chi2 / (m * (n - 1)))


def _cal_rows(au, eu, tu):
    rows = []
    for i, split in enumerate(("ood-a", "ood-b")):
        for m, v in (("AU", au[i]), ("EU", eu[i]), ("TU", tu[i])):
            rows.append(("lidc", 0, "ssn", "dropout", split, "CAL", m, "ace_global", "none", v, "ok"))
    return pd.DataFrame(rows, columns=COLS)


def test_cal_wrong_measure_is_the_per_shift_minimum_then_averaged():
    d = delta_table(_cal_rows([0.1, 0.3], [0.3, 0.1], [0.05, 0.05])).iloc[0]
    assert d.u_wrong == pytest.approx(0.1)  # min of the averages would be 0.2
    assert d.wrong_measure == "min(AU,EU)"
    assert d.delta == pytest.approx(float(entanglement_values(0.05, 0.1, True)))
    assert delta_table(_cal_rows([0.1, 0.2], [0.3, 0.4], [0.05, 0.05])).iloc[0].wrong_measure == "AU"


def test_delta_interval_comes_from_paired_replicates():
    res = fake_results(seeds=(0,), datasets=("fake-lidc",))
    reps = fake_replicates(res, replicates=30)
    d = derive(res, reps)
    row = d.frame[(d.frame.task == "OODD") & (d.frame.au == "ssn") & (d.frame.eu == "ensemble")].iloc[0]
    sel = res.index[(res.task == "OODD") & (res.aggregation == "border") & (res.au == "ssn") & (res.eu == "ensemble")]
    b = [f"b{i}" for i in range(30)]
    eu = reps.loc[sel][res.loc[sel].measure == "EU"][b].to_numpy(float).mean(0)  # mean over the 4 shifts first
    au = reps.loc[sel][res.loc[sel].measure == "AU"][b].to_numpy(float).mean(0)
    low, high = percentile_interval(entanglement_values(eu, au)[None])
    assert (row.delta_low, row.delta_high) == pytest.approx((low[0], high[0]), rel=1e-6)
    assert row.delta_low <= row.delta <= row.delta_high or np.isclose(row.delta, row.delta_low, atol=0.05)
    assert (row.u_correct_low, row.u_correct_high) == pytest.approx(tuple(np.r_[percentile_interval(eu[None])]
                                                                          .ravel()), rel=1e-6)


def test_one_seed_rank_intervals_and_bootstrap_concordance():
    res = fake_results(seeds=(0,), datasets=("fake-chaksu",))
    d = derive(res, fake_replicates(res, replicates=30))
    ranks = ranks_from_deltas(d, "performance")
    final = ranks[ranks.task == "final"]
    assert np.isfinite(final.ci_low).all() and (final.ci_low <= final.ci_high).all()
    assert "[" in rank_grid(ranks, "fake-chaksu").iloc[1, 1]
    w = bootstrap_concordance(d)
    assert set(w.task) == {"OODD", "AMB", "CAL", "final"} and w.kendall_w.between(0, 1).all()
    tied = indistinguishable(d)
    assert len(tied) and (tied.n_tied >= 0).all()
    plain = ranks_from_deltas(delta_table(res), "performance")
    assert plain.ci_low.isna().all()  # one seed, no replicates: no interval


def test_seed_reproducibility_tau_and_w():
    one = fake_results(seeds=(0,), datasets=("fake-lidc",))
    same = pd.concat([one, one.assign(seed=1), one.assign(seed=2)], ignore_index=True)
    rep = seed_reproducibility(same)
    assert set(rep.task) == {"OODD", "AMB", "CAL", "final"} and set(rep.kind) == {"performance", "entanglement"}
    assert np.allclose(rep.mean_tau, 1.0) and np.allclose(rep.kendall_w, 1.0) and (rep.n_seeds == 3).all()
    noisy = seed_reproducibility(fake_results(seeds=(0, 1, 2), datasets=("fake-lidc",)))
    assert noisy.kendall_w.between(0, 1).all() and (noisy.kendall_w < 1).any()


def test_pair_agreement_hand_case():
    # 2 seeds × 3 combinations × (point + 4 replicates). Seed 0 ranks a < b < c, seed 1 ranks b < a < c.
    # Pair (a, b): unresolved in seed 1 (its replicates straddle 0), discordant between the seeds.
    # Pairs (a, c), (b, c): resolved in both seeds and concordant.
    s0 = np.array([[1, 1, 1, 1, 1], [2, 2, 2, 2, 2], [3, 3, 3, 3, 3]], float)
    s1 = np.array([[2, 1, 2, 1, 2], [1, 2, 1, 2, 1], [3, 3, 3, 3, 3]], float)
    out = _pair_agreement(np.stack([s0, s1]), 0.95)
    assert out["n_pairs"] == 3
    assert out["resolved"] == pytest.approx(5 / 6)  # seed 0: 3 of 3; seed 1: 2 of 3
    assert out["tau_all"] == pytest.approx((2 - 1) / 3)
    assert out["tau_resolved"] == pytest.approx(1.0)
    assert out["unresolved_discordance"] == pytest.approx(1.0)
    # The same disagreement on a pair that both seeds resolve is a training-seed effect, not test-image noise.
    s1_sure = np.array([[2, 2, 2, 2, 2], [1, 1, 1, 1, 1], [3, 3, 3, 3, 3]], float)
    sure = _pair_agreement(np.stack([s0, s1_sure]), 0.95)
    assert sure["tau_resolved"] == pytest.approx(1 / 3) and sure["unresolved_discordance"] == 0.0
    assert np.isnan(_pair_agreement(s0[None], 0.95)["tau_all"])  # one seed


def test_resolved_pairs_on_identical_seeds_is_fully_concordant():
    one = fake_results(seeds=(0,), datasets=("fake-lidc",))
    same = pd.concat([one, one.assign(seed=1)], ignore_index=True)
    out = resolved_pairs(derive(same, fake_replicates(same, replicates=30)))
    assert set(out.task) == {"OODD", "AMB", "CAL", "final"} and (out.n_seeds == 2).all()
    assert np.allclose(out.tau_all, 1.0) and out.resolved.between(0, 1).all()


def test_report_page_shows_intervals(full_report):
    page = full_report.read_text(encoding="utf-8")
    assert "How reproducible is the ranking?" in page and "Kendall" in page
    assert "cannot be told apart" in page
    assert "Where the seeds disagree" in page  # two seeds with replicates
    pairs = pd.read_csv(full_report.parent / "tables" / "resolved_pairs.csv")
    assert {"tau_resolved", "unresolved_discordance"} <= set(pairs.columns) and (pairs.n_seeds == 2).all()
    parts = pd.read_csv(full_report.parent / "tables" / "variance_components.csv")
    assert {"sd_combination", "sd_seed", "sd_test_images", "expected_tau"} <= set(parts.columns)
    assert (parts.n_seeds == 2).all() and parts.icc.between(0, 1).all()
    deltas = pd.read_csv(full_report.parent / "tables" / "deltas.csv")
    assert {"delta_low", "delta_high", "u_correct_low", "u_wrong_high"} <= set(deltas.columns)
    assert np.isfinite(deltas.delta_low).mean() > 0.9
    assert (full_report.parent / "tables" / "rank_concordance.csv").is_file()
