"""Ranking with ties and mean rank with a t-interval over seeds (SPEC §3 Ranking)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata, t

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
