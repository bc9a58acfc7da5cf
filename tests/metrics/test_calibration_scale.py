"""Platt scaling and the OOD threshold τ stay exact at every scale of u (docs/method.md §3 CAL, OODD)."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from uqseg.errors import InputError
from uqseg.metrics import Evaluator, UncertaintyHistogram, ace, fit_platt, pixel_correctness, platt_confidence

SCALES = (1e-6, 1e-4, 1e-2, 0.5)


def _sklearn_platt(u: np.ndarray, correct: np.ndarray, k: int, scale: float) -> tuple[float, float]:
    """Exact unregularised weighted logistic regression on every pixel-annotator pair (u rescaled, then mapped back:
    the fit is equivariant to a feature's scale)."""
    x = -np.r_[u, u] / scale
    y = np.r_[np.ones(u.size), np.zeros(u.size)]
    w = np.r_[correct, k - correct]
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(x[:, None], y, sample_weight=w)
    return float(lr.coef_[0, 0]) / scale, float(lr.intercept_[0])


def _maps(rng: np.random.Generator, scale: float, n: int = 6, k: int = 3) -> dict[str, np.ndarray]:
    """Maps of magnitude `scale` (a few exact zeros) and annotators whose agreement with pred falls with u."""
    u = scale * rng.lognormal(0.0, 1.0, (n, 24, 24))
    u[:, :2, :3] = 0.0
    mean = np.stack([np.full(u.shape, 0.6), np.full(u.shape, 0.4)], 1)  # pred = class 0 everywhere
    p_correct = 1 / (1 + np.exp(1.5 * u / scale - 2.0))
    ann = (rng.random((n, k, 24, 24)) > p_correct[:, None]).astype(np.int64)
    return {"tu": u, "au": u, "eu": u, "mean": mean, "annotations": ann}


@pytest.mark.parametrize("scale", SCALES)
def test_streamed_platt_and_ace_match_sklearn_at_every_scale(scale: float) -> None:
    rng = np.random.default_rng(int(-np.log10(scale)))
    val, test = [_maps(rng, scale) for _ in range(2)], _maps(rng, scale)
    ev = Evaluator(2, ood_splits=["ood"])
    for batch in val:
        ev.add_validation(batch)
    ev.add("test", test)
    u = np.concatenate([b["eu"] for b in val]).ravel()
    corr = np.concatenate([pixel_correctness(b["annotations"], b["mean"].argmax(1)).sum(1) for b in val]).ravel()
    a_ref, b_ref = _sklearn_platt(u, corr, 3, scale)
    a, b = ev.platt["EU"]
    assert a == pytest.approx(a_ref, rel=1e-3) and b == pytest.approx(b_ref, abs=1e-3)
    ct = pixel_correctness(test["annotations"], test["mean"].argmax(1))
    conf_ref = np.broadcast_to(platt_confidence(test["eu"], a_ref, b_ref)[:, None], ct.shape)
    row = ev.results().query("split == 'test' and measure == 'EU' and metric == 'ace_global'").value.item()
    assert row == pytest.approx(ace(ct, conf_ref), abs=1e-3)


@pytest.mark.parametrize("scale", SCALES)
def test_quantile_is_relative_exact_at_every_scale(scale: float) -> None:
    rng = np.random.default_rng(3)
    u = scale * rng.lognormal(0.0, 1.5, 50_000)
    u[:5_000] = 0.0
    h = UncertaintyHistogram()
    for part in np.array_split(u, 4):
        h.add(part, np.zeros_like(part), 1)
    for q in (0.05, 0.3, 0.7, 0.95, 0.999):
        ref = np.quantile(u, q, method="inverted_cdf")  # the first value whose CDF reaches q
        assert h.quantile(q) == (0.0 if ref == 0 else pytest.approx(ref, rel=1e-3)), q


def test_threshold_tau_follows_the_scale_of_eu() -> None:
    rng = np.random.default_rng(4)
    batch = _maps(rng, 1e-5)
    ev = Evaluator(2, ood_splits=["ood"])
    ev.add_validation({**batch, "bg_fraction": np.full(6, 0.8)})
    ev.add("test", batch)
    assert ev.tau["EU"] == pytest.approx(np.quantile(batch["eu"], 0.8), rel=1e-3)


def test_fit_platt_is_the_exact_fit() -> None:
    rng = np.random.default_rng(5)
    u = rng.random(2000)
    y = (rng.random(2000) < 1 / (1 + np.exp(3 * u - 1))).astype(float)
    w = rng.integers(1, 4, 2000).astype(float)
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(-u[:, None], y, sample_weight=w)
    a, b = fit_platt(u, y, w)
    assert a == pytest.approx(lr.coef_[0, 0], rel=1e-6) and b == pytest.approx(lr.intercept_[0], abs=1e-6)


def test_histogram_refuses_bad_input() -> None:
    h = UncertaintyHistogram(bins=16)
    with pytest.raises(InputError, match=">= 0"):
        h.add(np.array([-1.0]), np.array([0.0]), 1)
    with pytest.raises(InputError, match="annotators"):
        h.add(np.array([1.0]), np.array([2.0]), 1)
    with pytest.raises(InputError, match="no pixels"):
        h.quantile(0.5)
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        h.quantile(1.5)
