"""CAL: per-annotator correctness, Platt scaling from a streamed histogram, and ACE (SPEC §3 CAL)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize

from uqseg.errors import InputError
from uqseg.metrics._check import as_array


def pixel_correctness(annotations: Any, pred: Any) -> np.ndarray:
    """1[annotator label == pred] per pixel and annotator; annotations (...,K,H,W), pred (...,H,W)."""
    a = as_array(annotations, "annotations", integer=True)
    p = as_array(pred, "pred", integer=True)
    if a.ndim < 3 or a.shape[:-3] + a.shape[-2:] != p.shape:
        raise InputError(f"annotations {a.shape} and pred {p.shape} do not match as (...,K,H,W) and (...,H,W)")
    return (a == p[..., None, :, :]).astype(np.float64)


def fit_platt(u: Any, correct: Any, weight: Any | None = None) -> tuple[float, float]:
    """Weighted logistic regression of correctness on −u: conf = σ(a·(−u) + b). Returns (a, b) (SPEC §3 CAL).

    u and correct are 1-D; weight (optional) gives each row's count, so a histogram of bin centres with
    correct/incorrect counts fits the streamed problem. Unregularised; BFGS on the weight-centred −u.
    """
    x = -as_array(u, "u", 1)
    y = as_array(correct, "correct", 1)
    w = np.ones_like(x) if weight is None else as_array(weight, "weight", 1)
    if not (x.shape == y.shape == w.shape):
        raise InputError(f"u, correct, weight must have equal length, got {x.shape}, {y.shape}, {w.shape}")
    if (w < 0).any() or w.sum() <= 0:
        raise InputError("weight must be non-negative with a positive sum")
    w = w / w.sum()
    shift = float(np.sum(w * x))
    x = x - shift

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] * x + theta[1]
        loss = np.sum(w * (np.logaddexp(0, z) - y * z))
        g = w * (1 / (1 + np.exp(-z)) - y)
        return float(loss), np.array([np.sum(g * x), np.sum(g)])

    res = minimize(nll, np.zeros(2), jac=True, method="BFGS", options={"gtol": 1e-12, "maxiter": 1000})
    return float(res.x[0]), float(res.x[1] - res.x[0] * shift)


def platt_confidence(u: Any, a: float, b: float) -> np.ndarray:
    """conf = σ(a·(−u) + b)."""
    return 1.0 / (1.0 + np.exp(-(a * -np.asarray(u, dtype=np.float64) + b)))


def ace_bin_sums(confidence: np.ndarray, correct: np.ndarray, bins: int) -> np.ndarray:
    """Per-bin (count, Σ correct, Σ confidence) over equal-width bins of [0, 1], last bin closed; shape bins×3."""
    idx = np.clip((confidence * bins).astype(np.int64), 0, bins - 1)
    return np.stack(
        [
            np.bincount(idx, minlength=bins).astype(np.float64),
            np.bincount(idx, weights=correct, minlength=bins),
            np.bincount(idx, weights=confidence, minlength=bins),
        ],
        axis=1,
    )


def ace_from_sums(sums: np.ndarray) -> float:
    """Mean over non-empty bins of |accuracy − confidence|, bins weighted equally; NaN when all bins are empty."""
    nz = sums[:, 0] > 0
    if not nz.any():
        return float("nan")
    return float(np.mean(np.abs(sums[nz, 1] - sums[nz, 2]) / sums[nz, 0]))


def ace(confidence: Any, correct: Any, bins: int = 20) -> float:
    """ACE with `bins` equal-width bins on [0, 1] (SPEC §3 CAL); no label binarisation, so all-correct works."""
    c = as_array(confidence, "confidence").ravel()
    y = as_array(correct, "correct").ravel()
    if c.shape != y.shape:
        raise InputError(f"confidence and correct differ in size: {c.size} vs {y.size}")
    if c.size == 0:
        raise InputError("confidence is empty")
    if (c < 0).any() or (c > 1).any():
        raise InputError("confidence must lie in [0, 1]")
    if (y < 0).any() or (y > 1).any():
        raise InputError("correct must lie in [0, 1] (a fraction of annotators)")
    if bins < 1:
        raise InputError(f"bins must be >= 1, got {bins}")
    return ace_from_sums(ace_bin_sums(c, y, bins))
