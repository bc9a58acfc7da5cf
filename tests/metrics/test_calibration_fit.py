"""Platt scaling's Newton fit: the exact maximum-likelihood fit where it is finite, a step function where the data
are separable, in a handful of steps either way (docs/method.md §3 CAL)."""

import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

import uqseg.metrics.calibration as calibration
from uqseg.metrics import UncertaintyHistogram, fit_platt, platt_confidence


def _nll(a: float, b: float, u: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Mean weighted log-loss of correctness y under conf = σ(a·(−u) + b)."""
    z = -a * u + b
    return float(np.sum(w * (np.logaddexp(0, z) - y * z)) / w.sum())


def _sklearn(u: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Unregularised weighted logistic regression by scikit-learn's exact Newton solver (fractional y split in two
    weighted rows)."""
    x = -np.r_[u, u][:, None]
    lr = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-14, max_iter=1000)
    lr.fit(x, np.r_[np.ones(u.size), np.zeros(u.size)], sample_weight=np.r_[w * y, w * (1 - y)])
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _trust_exact(u: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Brute force: SciPy's trust-region Newton on the raw log-loss, run to its gradient tolerance."""
    def f(t: np.ndarray) -> tuple[float, np.ndarray]:
        z = -t[0] * u + t[1]
        r = w * (1 / (1 + np.exp(-z)) - y) / w.sum()
        return _nll(t[0], t[1], u, y, w), np.array([-(r @ u), r.sum()])

    def h(t: np.ndarray) -> np.ndarray:
        z = -t[0] * u + t[1]
        v = w / (2 + np.exp(z) + np.exp(-z)) / w.sum()
        return np.array([[v @ (u * u), -(v @ u)], [-(v @ u), v.sum()]])

    res = minimize(f, np.zeros(2), jac=True, hess=h, method="trust-exact", options={"gtol": 1e-14, "maxiter": 2000})
    return float(res.x[0]), float(res.x[1])


CASES = {
    "three points": (np.array([0.1, 0.5, 0.9]), np.array([0.8, 0.5, 0.1]), np.array([2.0, 1.0, 3.0])),
    "overlap": (np.array([0.0, 0.2, 0.4, 0.6, 0.8]), np.array([1, 1, 0, 1, 0.0]), np.ones(5)),
    "fractions": (np.array([0.0, 1e-3, 2e-3, 5e-3]), np.array([1.0, 2 / 3, 1 / 3, 1 / 3]), np.array([5, 3, 3, 1.0])),
}


@pytest.mark.parametrize("name", CASES)
def test_hand_cases_match_sklearn_and_brute_force(name: str) -> None:
    u, y, w = CASES[name]
    a, b = fit_platt(u, y, w)
    for a_ref, b_ref in (_sklearn(u, y, w), _trust_exact(u, y, w)):
        assert a == pytest.approx(a_ref, rel=1e-7, abs=1e-7) and b == pytest.approx(b_ref, rel=1e-7, abs=1e-7)
    best = _nll(a, b, u, y, w)
    for da, db in np.random.default_rng(0).normal(0, 1e-4, (200, 2)):
        assert _nll(a + da * max(1, abs(a)), b + db, u, y, w) >= best - 1e-15


def test_random_fit_matches_sklearn_to_1e_9() -> None:
    rng = np.random.default_rng(5)
    u = rng.lognormal(-3, 1, 3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(40 * u - 2))).astype(float)
    w = rng.integers(1, 4, 3000).astype(float)
    a, b = fit_platt(u, y, w)
    a_ref, b_ref = _sklearn(u, y, w)
    assert a == pytest.approx(a_ref, rel=1e-9) and b == pytest.approx(b_ref, rel=1e-9)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")  # σ of a far-out z is exactly 0
def test_separable_data_give_a_step_function_in_few_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    u = np.linspace(0, 1, 101)
    y = (u < 0.5).astype(float)
    monkeypatch.setattr(calibration, "MAX_ITER", 60)
    a, b = fit_platt(u, y)
    conf = platt_confidence(u, a, b)
    assert (conf[y == 1] > 1 - 1e-6).all() and (conf[y == 0] < 1e-6).all()
    assert _nll(a, b, u, y, np.ones_like(u)) < 1e-9
    lr = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=200).fit(-u[:, None], y)
    assert (lr.predict(-u[:, None]) == y).all() and ((conf > 0.5) == y).all()


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")  # σ of a far-out z is exactly 0
def test_nearly_separable_data_stop_early_and_fit_like_the_long_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # Correct everywhere below u = 0.5 but for one pair in a million: the maximum-likelihood fit is finite but far out.
    u = np.linspace(0, 1, 1001)
    y = (u < 0.5).astype(float)
    w = np.full(u.size, 1e3)
    y[0], w[0] = 1 - 1e-6, 1e6
    long = fit_platt(u, y, w)
    monkeypatch.setattr(calibration, "MAX_ITER", 60)
    a, b = fit_platt(u, y, w)
    assert np.abs(platt_confidence(u, a, b) - platt_confidence(u, *long)).max() < 1e-9
    assert _nll(a, b, u, y, w) == pytest.approx(_nll(*long, u, y, w), rel=1e-9)


def test_a_map_in_one_histogram_bin_gets_the_accuracy() -> None:
    # Every u falls into one bin: the bin's mean u is all the fit sees, so u says nothing about correctness, although
    # within the bin the correct pairs have slightly lower u (the exact linear term would pull a without bound).
    rng = np.random.default_rng(7)
    u = 0.5 * (1 + 1e-6 * rng.random(4000))
    correct = (u < np.median(u)).astype(float) * 2 + (rng.random(4000) < 0.5)
    h = UncertaintyHistogram()
    h.add(u, correct, 3)
    a, b = h.fit_platt()
    accuracy = correct.sum() / (3 * u.size)
    assert a == 0.0 and b == pytest.approx(np.log(accuracy / (1 - accuracy)), rel=1e-12)
    assert platt_confidence(np.array([0.0, 0.5, 10.0]), a, b) == pytest.approx(np.full(3, accuracy), rel=1e-12)


def test_platt_confidence_saturates_without_overflow_warnings() -> None:
    u = np.array([0.0, 0.5, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        conf = platt_confidence(u, 5e5, 2.5e5)  # a step at u = 0.5 (a·(−u) + b = 0 there)
    np.testing.assert_array_equal(conf, [1.0, 0.5, 0.0])
    np.testing.assert_allclose(platt_confidence(u, 2.0, 1.0), 1 / (1 + np.exp(2.0 * u - 1.0)), rtol=1e-15)
