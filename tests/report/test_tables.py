"""The report's Δ, performance and rank tables (docs/method.md §2–§3) on a hand-made results table, known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from uqseg.errors import InputError
from uqseg.metrics import task_entanglement
from uqseg.report.tables import (
    default_ace_variant,
    delta_table,
    format_rank,
    rank_grid,
    rank_table,
    ranks_from_deltas,
    seed_ranks,
    table2,
    to_markdown,
)

COLS = ["dataset", "seed", "au", "eu", "split", "task", "measure", "metric", "aggregation", "value", "status"]
A, B, C = ("softmax", "dropout"), ("ssn", "ensemble"), ("diffusion", "none")
OOD = ("ood-a", "ood-b")


def toy(dataset: str = "toy-lidc", seed: int = 0, amb_id: dict | None = None) -> list[tuple]:
    """Three combinations with hand-picked values.

    OODD EU AUROC (border, mean of ood-a/ood-b): A 0.7, B 0.9, C 0.7 → ranks B 1, A = C 2.5.
    AMB AU NCC: ID A 0.5, B 0.4, C 0.3 (ranks 1, 2, 3); OOD mean A 0.2, B 0.3, C 0.1 (2, 1, 3) → A 1.5, B 1.5, C 3.
    CAL TU ace_global: ID A 0.1, B 0.05, C 0.2 (2, 1, 3); OOD A 0.1, B 0.3, C 0.2 (1, 3, 2) → A 1.5, B 2, C 2.5.
    Final: A 5.5/3, B 1.5, C 8/3. The `image` aggregation and `ace_image` values would give other ranks.
    """
    rows = []

    def put(combo: tuple[str, str], split: str, task: str, measure: str, metric: str, agg: str, v: float) -> None:
        rows.append((dataset, seed, *combo, split, task, measure, metric, agg, v, "ok"))

    eu_auroc = {A: (0.6, 0.8), B: (0.85, 0.95), C: (0.65, 0.75)}
    au_auroc = {A: (0.7, 0.7), B: (0.5, 0.5), C: (0.9, 0.5)}
    amb_id = amb_id or {A: 0.5, B: 0.4, C: 0.3}
    amb_ood = {A: (0.1, 0.3), B: (0.3, 0.3), C: (0.0, 0.2)}
    cal_id = {A: 0.1, B: 0.05, C: 0.2}
    cal_ood = {A: (0.1, 0.1), B: (0.2, 0.4), C: (0.2, 0.2)}
    for combo in (A, B, C):
        for i, split in enumerate(OOD):
            put(combo, split, "OODD", "EU", "auroc", "border", eu_auroc[combo][i])
            put(combo, split, "OODD", "AU", "auroc", "border", au_auroc[combo][i])
            put(combo, split, "OODD", "EU", "auroc", "image", 1 - eu_auroc[combo][i])
            put(combo, split, "OODD", "AU", "auroc", "image", 0.5)
            put(combo, split, "AMB", "AU", "ncc", "none", amb_ood[combo][i])
            put(combo, split, "AMB", "EU", "ncc", "none", 0.2)
            put(combo, split, "CAL", "TU", "ace_global", "none", cal_ood[combo][i])
            put(combo, split, "CAL", "AU", "ace_global", "none", 0.3)
            put(combo, split, "CAL", "EU", "ace_global", "none", 0.25)
            put(combo, split, "CAL", "TU", "ace_image", "none", 1 - cal_ood[combo][i])
        put(combo, "test", "AMB", "AU", "ncc", "none", amb_id[combo])
        put(combo, "test", "AMB", "EU", "ncc", "none", 0.4)
        put(combo, "test", "CAL", "TU", "ace_global", "none", cal_id[combo])
        put(combo, "test", "CAL", "AU", "ace_global", "none", 0.08)
        put(combo, "test", "CAL", "EU", "ace_global", "none", 0.3)
        put(combo, "test", "CAL", "TU", "ace_image", "none", 1 - cal_id[combo])
        put(combo, "val", "AMB", "AU", "ncc", "none", -5.0)
    return rows


def frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLS)


def delta(uc: float, uw: float, s: float = 1.0) -> float:
    return s * (math.atan2(uc, uw) - math.pi / 4) / (math.pi / 4)


def test_delta_table_by_hand():
    d = delta_table(frame(toy())).set_index(["au", "eu", "task", "group"])
    # OODD: the OOD splits are averaged first, then Δ (docs/method.md §2); EU is correct, AU wrong.
    assert d.loc[(*A, "OODD", "OOD"), "u_correct"] == pytest.approx(0.7)
    assert d.loc[(*A, "OODD", "OOD"), "delta"] == pytest.approx(delta(0.7, 0.7)) == pytest.approx(0.0)
    assert d.loc[(*C, "OODD", "OOD"), "u_wrong"] == pytest.approx(0.7)
    assert d.loc[(*B, "OODD", "OOD"), "delta"] == pytest.approx(delta(0.9, 0.5))
    # AMB: AU correct, EU wrong; ID and OOD (mean of ood-a, ood-b) separately.
    assert d.loc[(*A, "AMB", "ID"), "delta"] == pytest.approx(delta(0.5, 0.4))
    assert d.loc[(*C, "AMB", "OOD"), "u_correct"] == pytest.approx(0.1)
    # CAL: TU correct, min(AU, EU) ACE wrong, s = −1 (global ACE for LIDC-like data).
    row = d.loc[(*A, "CAL", "ID")]
    assert (row.wrong_measure, row.u_wrong, row.metric) == ("AU", pytest.approx(0.08), "ace_global")
    assert row.delta == pytest.approx(delta(0.1, 0.08, -1.0))
    assert d.loc[(*B, "CAL", "OOD"), "wrong_measure"] == "EU"
    assert d.loc[(*B, "CAL", "OOD"), "delta"] == pytest.approx(delta(0.3, 0.25, -1.0))
    assert set(d.reset_index().group) == {"ID", "OOD"}  # the val split is not part of any table
    assert (d.status == "ok").all() and not d.out_of_range.any()


def test_delta_table_matches_the_metrics_layer():
    """The vectorised table equals `uqseg.metrics.task_entanglement` applied to each combination."""
    rows = frame(toy())
    mine = delta_table(rows).set_index(["au", "eu", "task", "group"]).delta
    ref = pd.concat([task_entanglement(g).assign(au=au, eu=eu) for (au, eu), g in rows.groupby(["au", "eu"])])
    ood = ref[(ref.task == "OODD") & (ref.aggregation == "border")].set_index(["au", "eu"]).delta
    amb_id = ref[(ref.task == "AMB") & (ref.split == "test")].set_index(["au", "eu"]).delta
    cal_id = ref[(ref.task == "CAL") & (ref.split == "test") & (ref.metric == "ace_global")].set_index(["au", "eu"])
    for combo in (A, B, C):
        assert mine[(*combo, "OODD", "OOD")] == pytest.approx(ood[combo])
        assert mine[(*combo, "AMB", "ID")] == pytest.approx(amb_id[combo])
        assert mine[(*combo, "CAL", "ID")] == pytest.approx(cal_id.delta[combo])


def test_performance_ranks_by_hand():
    r = rank_table(frame(toy())).set_index(["au", "eu", "task"])["rank"]
    expected = {
        "OODD": {A: 2.5, B: 1.0, C: 2.5},
        "AMB": {A: 1.5, B: 1.5, C: 3.0},
        "CAL": {A: 1.5, B: 2.0, C: 2.5},
        "final": {A: 5.5 / 3, B: 1.5, C: 8 / 3},
    }
    for task, ranks in expected.items():
        for combo, value in ranks.items():
            assert r[(*combo, task)] == pytest.approx(value), (task, combo)


def test_ace_variant_and_aggregation_choices():
    rows = frame(toy("toy-chaksu"))
    assert default_ace_variant("toy-chaksu", ["ood"]) == "ace_image"
    assert default_ace_variant("mine", ["ood"]) == "ace_image"
    assert default_ace_variant("mine", ["ood-a", "ood-b"]) == "ace_global"
    cal = rank_table(rows).set_index(["au", "eu", "task"])["rank"]
    # ace_image holds 1 − ace_global, so per-image ACE reverses the CAL order: ID ranks 2, 3, 1; OOD 3, 1, 2.
    assert [cal[(*c, "CAL")] for c in (A, B, C)] == pytest.approx([2.5, 2.0, 1.5])
    image = rank_table(rows, ood_aggregation="image").set_index(["au", "eu", "task"])["rank"]
    assert [image[(*c, "OODD")] for c in (A, B, C)] == pytest.approx([1.5, 3.0, 1.5])
    with pytest.raises(InputError, match="ace_variant"):
        delta_table(rows, ace_variant="ace_pixel")


def test_entanglement_ranks_use_delta():
    d = delta_table(frame(toy()))
    ranks = seed_ranks(d, "entanglement").set_index(["au", "eu", "task"])["rank"]
    ood = d[d.task == "OODD"].set_index(["au", "eu"]).delta  # A 0, B > 0, C 0
    assert ood[B] > 0 and ood[A] == pytest.approx(0) and ood[C] == pytest.approx(0)
    assert [ranks[(*c, "OODD")] for c in (A, B, C)] == pytest.approx([2.5, 1.0, 2.5])


def test_seed_mean_and_ci():
    """Rank within each seed, then mean over seeds with the half-width t(0.975, n−1)·sd/√n (docs/method.md §3)."""
    swapped = {A: 0.3, B: 0.4, C: 0.5}  # seed 1: AMB ID ranks C 1, B 2, A 3
    rows = frame(toy(seed=0) + toy(seed=1, amb_id=swapped) + toy(seed=2))
    r = ranks_from_deltas(delta_table(rows)).set_index(["au", "eu", "task"])
    amb_a = np.array([1.5, 2.5, 1.5])  # A: (1 + 2)/2, (3 + 2)/2, (1 + 2)/2
    half = stats.t.ppf(0.975, 2) * amb_a.std(ddof=1) / np.sqrt(3)
    assert r.loc[(*A, "AMB"), "rank"] == pytest.approx(amb_a.mean())
    assert r.loc[(*A, "AMB"), "ci"] == pytest.approx(half)
    low, high = stats.t.interval(0.95, 2, loc=amb_a.mean(), scale=stats.sem(amb_a))
    assert r.loc[(*A, "AMB"), "ci"] == pytest.approx((high - low) / 2)
    assert r.loc[(*B, "OODD"), "ci"] == pytest.approx(0.0)
    assert (r.n_seeds == 3).all()


def test_nan_input_gives_nan_rank_and_status():
    rows = frame(toy())
    rows.loc[(rows.au == "ssn") & (rows.task == "OODD") & (rows.split == "ood-a"), ["value", "status"]] = \
        [np.nan, "undefined: single class"]
    d = delta_table(rows)
    bad = d[(d.au == "ssn") & (d.task == "OODD")].iloc[0]
    assert np.isnan(bad.delta) and bad.status.startswith("undefined")
    r = rank_table(rows).set_index(["au", "eu", "task"])["rank"]
    assert np.isnan(r[(*B, "OODD")]) and np.isnan(r[(*B, "final")])
    assert [r[(*c, "OODD")] for c in (A, C)] == pytest.approx([1.5, 1.5])  # the others ranked among themselves


def test_rank_grid_table2_and_formatting():
    rows = frame(toy(seed=0) + toy(seed=1, amb_id={A: 0.3, B: 0.4, C: 0.5}))
    d = delta_table(rows)
    perf, ent = ranks_from_deltas(d, "performance"), ranks_from_deltas(d, "entanglement")
    grid = rank_grid(perf, "toy-lidc")
    assert grid.loc["Softmax", "No EU"] == "N/A"
    assert grid.loc["SSN", "Ensemble"].startswith("1.") and "±" in grid.loc["Softmax", "Dropout"]
    assert grid.loc["SSN", "Dropout"] == "—"  # not in this run
    t2 = table2(perf, ent)
    assert set(t2["rank"]) == {"performance", "entanglement"} and "Ensemble" in t2.columns
    assert format_rank(3.456, 0.81, 5) == "3.5 ± 0.8"
    assert format_rank(3.456, 0.0, 1) == "3.5"
    assert format_rank(np.nan, np.nan, 2) == "—"
    md = to_markdown(pd.DataFrame({"a|b": [1.23456, np.nan], "c": ["x", "y"]}))
    assert md.splitlines() == ["| a\\|b | c |", "|---|---|", "| 1.235 | x |", "| — | y |"]


def test_bad_results_are_input_errors():
    with pytest.raises(InputError, match="lack columns"):
        delta_table(pd.DataFrame({"dataset": ["d"]}))
    with pytest.raises(InputError, match="kind"):
        seed_ranks(delta_table(frame(toy())), "speed")
