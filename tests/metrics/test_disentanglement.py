"""Disentanglement error (docs/method.md "Open questions") on constructed sweeps with known values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from uqseg.errors import InputError
from uqseg.metrics.disentanglement import Sweep, disentanglement_error, fraction_truth, level_correlation

AMBIGUITY = np.array([0.0, 0.25, 0.5, 1.0, 1.5])
FRACTIONS = np.array([0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0])
U_E = fraction_truth(FRACTIONS)


def _perfect() -> tuple[Sweep, Sweep]:
    """u_a = linear in U_a and flat in the data sweep; u_e = linear in U_e and flat in the label sweep."""
    return (Sweep(AMBIGUITY, 0.1 + 0.3 * AMBIGUITY, np.full(5, 0.02)),
            Sweep(U_E, np.full(7, 0.1), 0.01 + 0.05 * U_E))


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_perfect_disentangler_scores_zero(method: str) -> None:
    r = disentanglement_error(*_perfect(), method=method)
    assert r.de == pytest.approx(0.0, abs=1e-12)
    assert (r.au_vs_true_au, r.eu_vs_true_eu, r.au_vs_true_eu, r.eu_vs_true_au) == pytest.approx((1, 1, 0, 0))


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_swapped_entangled_and_inverted(method: str) -> None:
    a, e = _perfect()
    swapped = disentanglement_error(Sweep(AMBIGUITY, a.eu, a.au), Sweep(U_E, e.eu, e.au), method=method)
    assert swapped.de == pytest.approx(1.0)
    both = disentanglement_error(Sweep(AMBIGUITY, a.au, 2 * a.au), Sweep(U_E, e.eu / 3, e.eu), method=method)
    assert both.de == pytest.approx(0.5)  # |0| + |0| + |1| + |1| over 4
    inverted = disentanglement_error(Sweep(AMBIGUITY, -a.au, a.au), Sweep(U_E, e.eu, -e.eu), method=method)
    assert inverted.de == pytest.approx(1.5)  # |−1 − 1| twice, |1| twice


def test_weights_follow_the_paper_formula() -> None:
    rng = np.random.default_rng(0)
    a = Sweep(AMBIGUITY, AMBIGUITY + rng.normal(0, 0.3, 5), rng.normal(size=5))
    e = Sweep(U_E, rng.normal(size=7), U_E + rng.normal(0, 1.0, 7))
    r_aa = pearsonr(a.au, AMBIGUITY).statistic
    r_ee = pearsonr(e.eu, U_E).statistic
    r_ae = pearsonr(e.au, U_E).statistic
    r_ea = pearsonr(a.eu, AMBIGUITY).statistic
    alpha, beta, gamma = 2.0, 0.5, 3.0
    expected = (abs(r_aa - 1) + alpha * abs(r_ee - 1) + beta * abs(r_ae) + gamma * abs(r_ea)) / 6.5
    r = disentanglement_error(a, e, alpha=alpha, beta=beta, gamma=gamma)
    assert r.de == pytest.approx(expected, abs=1e-12)
    assert (r.au_vs_true_au, r.eu_vs_true_eu, r.au_vs_true_eu, r.eu_vs_true_au) == pytest.approx(
        (r_aa, r_ee, r_ae, r_ea), abs=1e-12)
    default = disentanglement_error(a, e)
    assert default.de == pytest.approx((abs(r_aa - 1) + abs(r_ee - 1) + abs(r_ae) + abs(r_ea)) / 4, abs=1e-12)


def test_pearson_and_spearman_differ_on_a_monotone_nonlinear_estimate() -> None:
    a = Sweep(AMBIGUITY, np.exp(4 * AMBIGUITY), np.full(5, 0.02))
    e = Sweep(U_E, np.full(7, 0.1), U_E)
    s = disentanglement_error(a, e, method="spearman")
    p = disentanglement_error(a, e, method="pearson")
    assert s.de == pytest.approx(0.0, abs=1e-12)
    assert p.au_vs_true_au == pytest.approx(pearsonr(a.au, AMBIGUITY).statistic)
    assert p.de == pytest.approx((1 - p.au_vs_true_au) / 4) and p.de > 0.01
    ties = np.array([0.1, 0.1, 0.3, 0.2, 0.5])
    np.testing.assert_allclose(level_correlation(ties, AMBIGUITY, "spearman"), spearmanr(ties, AMBIGUITY).statistic)


def test_runs_are_averaged_after_the_error() -> None:
    rng = np.random.default_rng(1)
    au_a, eu_a = AMBIGUITY + rng.normal(0, 0.4, (3, 5)), rng.normal(size=(3, 5))
    au_e, eu_e = rng.normal(size=(3, 7)), U_E + rng.normal(0, 1.0, (3, 7))
    r = disentanglement_error(Sweep(AMBIGUITY, au_a, eu_a), Sweep(U_E, au_e, eu_e))
    single = [disentanglement_error(Sweep(AMBIGUITY, au_a[i], eu_a[i]), Sweep(U_E, au_e[i], eu_e[i])).de
              for i in range(3)]
    np.testing.assert_allclose(r.per_run, single)
    assert r.de == pytest.approx(np.mean(single))
    assert r.au_vs_true_au == pytest.approx(np.mean([pearsonr(x, AMBIGUITY).statistic for x in au_a]))


def test_fraction_truth_and_errors() -> None:
    assert fraction_truth([1.0, 0.5])[0] == 0.0
    assert np.all(np.diff(U_E) < 0)  # larger fraction, less epistemic uncertainty
    with pytest.raises(InputError, match="fractions"):
        fraction_truth([0.0, 1.0])
    with pytest.raises(InputError, match="do not match"):
        disentanglement_error(Sweep(AMBIGUITY, np.ones(4), np.ones(4)), _perfect()[1])
    with pytest.raises(InputError, match="runs"):
        disentanglement_error(Sweep(AMBIGUITY, np.ones((2, 5)), np.ones((2, 5))), _perfect()[1])
    with pytest.raises(InputError, match="method"):
        disentanglement_error(*_perfect(), method="kendall")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="L >= 2"):
        level_correlation([1.0], [2.0])
