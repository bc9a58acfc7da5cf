"""CAL: per-annotator correctness, Platt scaling from a scale-free streamed histogram, and ACE (docs/method.md §3)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import expit

from uqseg.errors import InputError
from uqseg.metrics._check import as_array, swapped


def pixel_correctness(annotations: Any, pred: Any) -> np.ndarray:
    """1[annotator label == pred] per pixel and annotator; annotations (...,K,H,W), pred (...,H,W)."""
    a = as_array(annotations, "annotations", integer=True)
    p = as_array(pred, "pred", integer=True)
    if a.ndim < 3 or a.shape[:-3] + a.shape[-2:] != p.shape:
        hint = swapped("pixel_correctness(annotations, pred)") if p.ndim == a.ndim + 1 else ""
        raise InputError(f"annotations {a.shape} and pred {p.shape} do not match as (...,K,H,W) and (...,H,W){hint}")
    return (a == p[..., None, :, :]).astype(np.float64)


#: Newton stops when the largest gradient component (of the mean log-loss in standardised units) is at most GTOL,
#: after a full step once Newton's decrement (twice the gain the step predicts) is at most RTOL of the loss (the
#: loss cannot resolve a line search any more), or after MAX_ITER steps.
GTOL = 1e-12
RTOL = 1e-12
MAX_ITER = 500


def _newton_logistic(xs: np.ndarray, wn: np.ndarray, y_sum: float, yx_sum: float) -> np.ndarray:
    """Minimise the mean log-loss Σ wn·log(1 + e^z) − θ₀·yx_sum − θ₁·y_sum, z = θ₀·xs + θ₁, by Newton's method with
    a backtracking (Armijo) line search (docs/method.md §3 CAL). Returns θ.

    Near the minimum the loss changes by less than its rounding error, so the last step is taken whole: where the
    minimum is finite Newton converges quadratically and that step lands on it to rounding; where it lies at
    infinity (separable data) what is left to gain is below RTOL of the loss."""
    def loss_grad_hess(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        z = theta[0] * xs + theta[1]
        p = expit(z)
        loss = float(wn @ np.logaddexp(0.0, z)) - theta[0] * yx_sum - theta[1] * y_sum
        wp, v = wn * p, wn * p * (1.0 - p)
        vx = v @ xs
        grad = np.array([wp @ xs - yx_sum, wp.sum() - y_sum])
        return loss, grad, np.array([[v @ (xs * xs), vx], [vx, v.sum()]])

    def loss_at(theta: np.ndarray) -> float:
        z = theta[0] * xs + theta[1]
        return float(wn @ np.logaddexp(0.0, z)) - theta[0] * yx_sum - theta[1] * y_sum

    theta = np.zeros(2)
    loss, grad, hess = loss_grad_hess(theta)
    for _ in range(MAX_ITER):
        if np.abs(grad).max() <= GTOL:
            break
        step = np.linalg.lstsq(hess, -grad, rcond=None)[0]
        slope = float(grad @ step)
        if not slope < 0:
            step, slope = -grad, -float(grad @ grad)
        if -slope <= RTOL * abs(loss):
            return theta + step
        t = 1.0
        while loss_at(theta + t * step) > loss + 1e-4 * t * slope:
            t *= 0.5
            if t < 1e-12:
                return theta
        theta = theta + t * step
        loss, grad, hess = loss_grad_hess(theta)
    return theta


def _fit_logistic(
    count: np.ndarray, sum_u: np.ndarray, correct: np.ndarray, correct_u: np.ndarray
) -> tuple[float, float]:
    """Unregularised weighted logistic regression of correctness on −u from per-row sums (docs/method.md §3 CAL).

    Row r stands for count[r] pixel-annotator pairs with Σu = sum_u[r], of which correct[r] are correct with
    Σu over the correct ones = correct_u[r]. The correct-label term of the log-likelihood is linear in u and is
    exact; the log-partition term evaluates each row at its mean u, so the fit is exact when each row holds one
    value of u. Newton's method with a line search (``_newton_logistic``) on −u standardised to weighted mean 0
    and s.d. 1, then mapped back. Where the data are separable the maximum-likelihood fit lies at infinity and
    the search stops at ``GTOL`` or ``RTOL``, where the fitted function is a step function to that precision.
    Where every row has the same mean u, u tells nothing about correctness: a = 0 and b is the logit of the
    accuracy.
    """
    keep = count > 0
    n, su, c, cu = count[keep], sum_u[keep], correct[keep], correct_u[keep]
    total = float(n.sum())
    x = -su / n
    y_sum = float(c.sum()) / total
    if x.min() == x.max():
        _, beta = _newton_logistic(np.zeros_like(x), n / total, y_sum, 0.0)
        return 0.0, float(beta)
    shift = float(np.sum(n * x) / total)
    scale = float(np.sqrt(np.sum(n * (x - shift) ** 2) / total))
    xs = (x - shift) / scale
    yx_sum = float(np.sum(-cu - shift * c)) / scale / total
    alpha, beta = (float(v) for v in _newton_logistic(xs, n / total, y_sum, yx_sum))
    return alpha / scale, beta - alpha * shift / scale


def fit_platt(u: Any, correct: Any, weight: Any | None = None) -> tuple[float, float]:
    """Weighted logistic regression of correctness on −u: conf = σ(a·(−u) + b). Returns (a, b) (docs/method.md §3).

    u and correct are 1-D (correct may be a fraction in [0, 1]); weight (optional) gives each row's count.
    Unregularised, the exact maximum-likelihood fit.
    """
    x = as_array(u, "u", 1)
    y = as_array(correct, "correct", 1)
    w = np.ones_like(x) if weight is None else as_array(weight, "weight", 1)
    if not (x.shape == y.shape == w.shape):
        raise InputError(f"u, correct, weight must have equal length, got {x.shape}, {y.shape}, {w.shape}")
    if (w < 0).any() or w.sum() <= 0:
        raise InputError("weight must be non-negative with a positive sum")
    return _fit_logistic(w, w * x, w * y, w * y * x)


class UncertaintyHistogram:
    """Scale-free streamed statistics of one uncertainty measure on the validation split (docs/method.md §3).

    One bin holds the exact zeros; ``bins`` log-spaced bins cover [low, high] (values outside go to the end bins).
    Each bin keeps its pixel count and Σu, and over pixel-annotator pairs the count, Σu, the correct count and Σu
    of the correct pairs. The Platt fit is then exact in its linear term and evaluates the rest at each bin's mean
    u (relative bin width (high/low)^(1/bins) − 1, 4.9e-4 by default), whatever the scale of u; the quantile is
    the mean u of the bin holding it, so its relative error is below the bin width.
    """

    def __init__(self, bins: int = 1 << 16, low: float = 1e-12, high: float = 1e2) -> None:
        if bins < 1 or not 0 < low < high:
            raise InputError(f"need bins >= 1 and 0 < low < high, got bins={bins}, low={low}, high={high}")
        self.bins, self.low, self.high = bins, low, high
        self._log_low = math.log(low)
        self._per_log = bins / (math.log(high) - self._log_low)
        self.sums = np.zeros((bins + 1, 6))  # pixels, Σu, pairs, pairs·u, correct, correct·u

    def _index(self, u: np.ndarray) -> np.ndarray:
        pos = u > 0
        idx = np.zeros(u.shape, dtype=np.int64)
        logs = (np.log(u[pos]) - self._log_low) * self._per_log
        idx[pos] = 1 + np.clip(logs, 0, self.bins - 1).astype(np.int64)
        return idx

    def add(self, u: Any, correct: Any, annotators: int) -> None:
        """Add pixels with values u (any shape, ≥ 0) and per-pixel correct-annotator counts (same shape)."""
        x = as_array(u, "u").ravel()
        y = as_array(correct, "correct").ravel()
        if x.shape != y.shape:
            raise InputError(f"u and correct differ in size: {x.size} vs {y.size}")
        if (x < 0).any():
            raise InputError(f"uncertainty values must be >= 0, got minimum {x.min():.3g}")
        if annotators < 1 or (y < 0).any() or (y > annotators).any():
            raise InputError(f"correct counts must lie in [0, annotators={annotators}]")
        idx = self._index(x)
        size = self.bins + 1
        pixels = np.bincount(idx, minlength=size).astype(np.float64)
        sum_u = np.bincount(idx, weights=x, minlength=size)
        self.sums += np.stack([pixels, sum_u, annotators * pixels, annotators * sum_u,
                               np.bincount(idx, weights=y, minlength=size),
                               np.bincount(idx, weights=y * x, minlength=size)], axis=1)

    def fit_platt(self) -> tuple[float, float]:
        """Platt (a, b) of conf = σ(a·(−u) + b) over every pixel-annotator pair added."""
        if self.sums[:, 2].sum() <= 0:
            raise InputError("no pixels were added to the uncertainty histogram")
        s = self.sums
        return _fit_logistic(s[:, 2], s[:, 3], s[:, 4], s[:, 5])

    def quantile(self, q: float) -> float:
        """The q-quantile (the first value whose empirical CDF reaches q) of the pixels added; 0 among exact zeros."""
        if not 0 <= q <= 1:
            raise InputError(f"quantile q must lie in [0, 1], got {q}")
        counts = self.sums[:, 0]
        cum = np.cumsum(counts)
        if cum[-1] <= 0:
            raise InputError("no pixels were added to the uncertainty histogram")
        nonempty = np.flatnonzero(counts)
        first = int(np.searchsorted(cum, q * cum[-1], side="left"))
        i = int(nonempty[min(int(np.searchsorted(nonempty, first)), nonempty.size - 1)])
        return float(self.sums[i, 1] / counts[i])


def platt_confidence(u: Any, a: float, b: float) -> np.ndarray:
    """conf = σ(a·(−u) + b)."""
    return expit(a * -np.asarray(u, dtype=np.float64) + b)  # the same values, without exp's overflow warning


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


def ace(correct: Any, confidence: Any, bins: int = 20) -> float:
    """ACE with `bins` equal-width bins on [0, 1] (docs/method.md §3 CAL); no label binarisation (all-correct works).

    correct: 1 or 0 per pixel (or the fraction of annotators who agree with the prediction); confidence: the
    model's confidence in [0, 1], same size. Like scikit-learn, the reference comes first. A confidence of only 0s
    and 1s next to a fractional ``correct`` raises InputError: the arguments look swapped.
    """
    y = as_array(correct, "correct").ravel()
    c = as_array(confidence, "confidence").ravel()
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
    if np.isin(c, (0.0, 1.0)).all() and not np.isin(y, (0.0, 1.0)).all():
        raise InputError("confidence holds only 0 and 1 while correct holds fractions" + swapped("ace(correct, "
                                                                                                 "confidence)"))
    return ace_from_sums(ace_bin_sums(c, y, bins))
