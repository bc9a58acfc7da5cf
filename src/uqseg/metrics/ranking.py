"""Ranking with ties and mean rank with a t-interval over seeds (docs/method.md §3 Ranking)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata, t

from uqseg.errors import InputError
from uqseg.metrics._check import as_array


def rank_with_ties(values: Any, higher_is_better: bool) -> np.ndarray:
    """Ranks 1..n (1 = best) with ties taking the average rank."""
    v = as_array(values, "values", 1)
    return rankdata(-v if higher_is_better else v, method="average")


def mean_rank_with_ci(ranks_per_seed: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean over seeds (axis 0 of seeds×items) and the 95% half-width t(0.975, n−1)·sd/√n; 0 for n = 1."""
    r = as_array(ranks_per_seed, "ranks_per_seed", 2)
    n = r.shape[0]
    if n < 2:
        return r.mean(0), np.zeros(r.shape[1])
    return r.mean(0), t.ppf(0.975, n - 1) * r.std(0, ddof=1) / np.sqrt(n)


def rank_rows(values: Any, higher_is_better: bool) -> np.ndarray:
    """Average-tie ranks (1 = best) along the last axis, each row on its own; NaN values keep a NaN rank and the
    finite ones are ranked among themselves (docs/method.md §3 Ranking)."""
    v = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(v)
    key = np.where(bad, np.inf, -v if higher_is_better else v)
    return np.where(bad, np.nan, rankdata(key, method="average", axis=-1))


def kendall_w(ranks: Any) -> float:
    """Kendall's coefficient of concordance W of m raters ranking n items (m×n ranks, average ranks for ties), with
    the tie correction: W = 12·S / (m²(n³ − n) − m·Σ(t³ − t)), S the sum of squared deviations of the items' rank
    sums from their mean, t the sizes of the tie groups of each rater (docs/method.md §3 Ranking).

    1 = every rater ranks alike, 0 = no agreement. NaN with fewer than 2 raters or items, or when every rater ties
    every item.
    """
    r = as_array(ranks, "ranks", 2)
    m, n = r.shape
    if m < 2 or n < 2:
        return float("nan")
    if not np.isfinite(r).all():
        raise InputError("kendall_w: ranks must be finite (drop items with a NaN rank first)")
    r = rankdata(r, method="average", axis=1)
    s = float(((r.sum(0) - m * (n + 1) / 2) ** 2).sum())
    ties = sum(float((c**3 - c).sum()) for c in (np.unique(row, return_counts=True)[1] for row in r))
    denominator = m**2 * (n**3 - n) - m * ties
    return 12 * s / denominator if denominator > 0 else float("nan")
