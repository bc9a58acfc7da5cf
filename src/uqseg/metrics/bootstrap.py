"""Bootstrap confidence intervals over images (docs/method.md §3): resample counts and replicate statistics.

A replicate draws n images with replacement from a split of n images; it is stored as a count per image (B×n), so
every per-image statistic becomes a weighted one and one count matrix serves every metric of the split. The counts
come from a generator seeded by a text key (dataset, seed and split), so every combination of one dataset, seed and
split sees the same resamples (paired differences) and reruns are bit-identical. Percentile intervals; B = 1000 by
default, for which the Monte Carlo error of a 2.5 % endpoint is about ±0.5 percentile points of the bootstrap
distribution, small against the interval itself (Efron & Tibshirani 1993, §13.3).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from uqseg.errors import InputError

REPLICATES = 1000
LEVEL = 0.95


def key_seed(key: str) -> int:
    """A 64-bit generator seed from a text key (stable across processes, unlike ``hash``)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")


def resample_counts(n: int, replicates: int = REPLICATES, key: str = "") -> np.ndarray:
    """B×n counts: how often each of n images is drawn in each of B resamples of size n (docs/method.md §3)."""
    if n < 1:
        raise InputError(f"resample_counts needs n >= 1 images, got {n}")
    if replicates < 1:
        raise InputError(f"replicates must be >= 1, got {replicates}")
    idx = np.random.default_rng(key_seed(key)).integers(0, n, size=(replicates, n))
    flat = (idx + np.arange(replicates)[:, None] * n).ravel()
    return np.bincount(flat, minlength=replicates * n).reshape(replicates, n).astype(np.float64)


def _counts(counts: Any, n: int, name: str) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != n:
        raise InputError(f"{name} must be B×{n} (one count per image), got shape {c.shape}")
    return c


def mean_replicates(counts: Any, values: Any) -> np.ndarray:
    """Replicates of the mean of per-image ``values`` (n or n×k) under B×n ``counts``: B or B×k."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim not in (1, 2) or v.shape[0] == 0:
        raise InputError(f"values must be n or n×k with n >= 1, got shape {v.shape}")
    c = _counts(counts, v.shape[0], "counts")
    return (c @ v) / c.sum(1).reshape(-1, *([1] * (v.ndim - 1)))


def ace_from_summed_bins(sums: Any) -> np.ndarray:
    """ACE of …×bins×3 summed (count, Σ correct, Σ confidence): the mean over non-empty bins of |acc − conf|, bins
    weighted equally (docs/method.md §3 CAL); NaN where every bin is empty."""
    s = np.asarray(sums, dtype=np.float64)
    if s.ndim < 2 or s.shape[-1] != 3:
        raise InputError(f"sums must be …×bins×3, got shape {s.shape}")
    nz = s[..., 0] > 0
    gap = np.abs(s[..., 1] - s[..., 2]) / np.where(nz, s[..., 0], 1.0)
    k = nz.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(k > 0, (gap * nz).sum(-1) / k, np.nan)


def ace_replicates(counts: Any, image_sums: Any) -> np.ndarray:
    """Replicates (B) of the pooled ("global") ACE from per-image bin sums n×bins×3: the resampled images' bins are
    summed, then ACE is taken (docs/method.md §3 CAL)."""
    s = np.asarray(image_sums, dtype=np.float64)
    if s.ndim != 3 or s.shape[2] != 3:
        raise InputError(f"image_sums must be n×bins×3, got shape {s.shape}")
    c = _counts(counts, s.shape[0], "counts")
    return ace_from_summed_bins((c @ s.reshape(s.shape[0], -1)).reshape(c.shape[0], *s.shape[1:]))


def auroc_replicates(id_scores: Any, ood_scores: Any, id_counts: Any, ood_counts: Any) -> np.ndarray:
    """Replicates (B) of the AUROC of OOD (positive) vs ID scores (docs/method.md §3 OODD), ties counting ½.

    With ID weights w and OOD weights v (the counts), AUROC = Σ_j v_j (W(<b_j) + W(≤b_j))/2 / (Σw Σv), where W(·) is
    the weight of ID scores below (or at most) b_j; via one sort, B·(n_id + n_ood) work.
    """
    a = np.asarray(id_scores, dtype=np.float64).ravel()
    b = np.asarray(ood_scores, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise InputError("auroc_replicates needs at least one ID and one OOD score")
    w = _counts(id_counts, a.size, "id_counts")
    v = _counts(ood_counts, b.size, "ood_counts")
    if w.shape[0] != v.shape[0]:
        raise InputError(f"id_counts and ood_counts differ in replicates: {w.shape[0]} vs {v.shape[0]}")
    order = np.argsort(a, kind="stable")
    sa = a[order]
    cum = np.concatenate([np.zeros((w.shape[0], 1)), np.cumsum(w[:, order], axis=1)], axis=1)
    lo, hi = np.searchsorted(sa, b, side="left"), np.searchsorted(sa, b, side="right")
    kernel = (cum[:, lo] + cum[:, hi]) / 2
    return (kernel * v).sum(1) / (w.sum(1) * v.sum(1))


def percentile_interval(replicates: Any, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval along the last axis: the (1 − level)/2 and (1 + level)/2 quantiles of the replicates.

    NaN where any replicate is NaN or inf (the statistic is undefined on some resample) or there are none.
    """
    if not 0 < level < 1:
        raise InputError(f"level must lie in (0, 1), got {level}")
    r = np.asarray(replicates, dtype=np.float64)
    if r.ndim == 0:
        raise InputError("replicates must have at least one axis")
    if r.shape[-1] == 0:
        nan = np.full(r.shape[:-1], np.nan)
        return nan, nan.copy()
    ok = np.isfinite(r).all(-1)
    lo, hi = np.percentile(np.where(np.isfinite(r), r, 0.0), [100 * (1 - level) / 2, 100 * (1 + level) / 2], axis=-1)
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)
