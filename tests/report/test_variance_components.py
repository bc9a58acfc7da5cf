"""Variance between combinations against variance over training seeds (docs/method.md "Statistical reporting"):
a hand-computed case, a simulated random-effects model, and the τ it predicts against the τ it explains."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from uqseg.report.reproducibility import _components, variance_components
from uqseg.report.tables import Derived


def test_hand_case() -> None:
    values = np.array([[1.0, 3.0], [5.0, 7.0]])  # row variances 2 and 2; row means 2 and 6 (variance 8)
    boot = np.stack([values - 0.5, values + 0.5], -1)  # every bootstrap variance is 0.5
    out = _components(values, boot)
    assert out["sd_seed"] == pytest.approx(np.sqrt(2.0))
    assert out["sd_combination"] == pytest.approx(np.sqrt(8.0 - 2.0 / 2))
    assert out["icc"] == pytest.approx(7.0 / 9.0)
    assert out["sd_test_images"] == pytest.approx(np.sqrt(0.5))
    assert out["expected_tau"] == pytest.approx(2 / np.pi * np.arcsin(7.0 / 9.0))


def test_no_difference_between_combinations_gives_zero_icc() -> None:
    values = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])  # equal means: all spread is over seeds
    assert _components(values, np.empty((3, 2, 0)))["icc"] == 0.0
    assert np.isnan(_components(values[:, :1], np.empty((3, 1, 0)))["icc"])  # one seed


def test_random_effects_model_recovers_its_components_and_tau() -> None:
    rng = np.random.default_rng(0)
    n_items, n_seeds, sd_c, sd_s = 3000, 3, 0.2, 0.1
    values = rng.normal(0, sd_c, (n_items, 1)) + rng.normal(0, sd_s, (n_items, n_seeds))
    out = _components(values, np.empty((n_items, n_seeds, 0)))
    assert out["sd_combination"] == pytest.approx(sd_c, rel=0.05)
    assert out["sd_seed"] == pytest.approx(sd_s, rel=0.05)
    assert out["icc"] == pytest.approx(0.8, abs=0.02)
    observed = np.mean([kendalltau(values[:, a], values[:, b]).statistic
                        for a, b in itertools.combinations(range(n_seeds), 2)])
    assert out["expected_tau"] == pytest.approx(observed, abs=0.03)  # Greiner's relation τ = (2/π)·arcsin(ρ)


def test_variance_components_reads_a_derived_table_per_group_and_kind() -> None:
    combos = [("softmax", "dropout"), ("ssn", "ensemble"), ("diffusion", "none")]
    rows, correct = [], []
    for seed in (0, 1):
        for i, (au, eu) in enumerate(combos):
            rows.append({"dataset": "toy", "seed": seed, "au": au, "eu": eu, "task": "AMB", "group": "ID"})
            correct.append([i + 0.1 * seed, i, i + 0.2 * seed])  # point value, then two bootstrap replicates
    matrix = np.array(correct)
    derived = Derived(pd.DataFrame(rows), matrix, matrix.copy(), matrix * 0 + np.nan)
    out = variance_components(derived)
    perf = out[out.kind == "performance"].iloc[0]
    assert perf.n_seeds == 2 and perf.n_combinations == 3
    assert perf.sd_seed == pytest.approx(np.sqrt(0.005))  # each combination moves by 0.1 between the seeds
    assert perf.icc > 0.99
    assert out[out.kind == "entanglement"].icc.isna().all()  # Δ undefined: no combination left
