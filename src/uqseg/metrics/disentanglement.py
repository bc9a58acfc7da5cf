"""Disentanglement error of de Jong et al. 2024 (arXiv 2408.12175), per-pixel segmentation version
(docs/method.md "Open questions").

Two controlled sweeps. In the aleatoric sweep the true aleatoric uncertainty U_a is raised level by level (on the
synthetic data: the generator's annotator ambiguity a); in the epistemic sweep the true epistemic uncertainty U_e is
raised by shrinking the training set. At every level the model's mean estimated AU (u_a) and EU (u_e) over the
evaluated pixels are recorded. With ρ a correlation across the levels of one sweep,

    DE = [ |ρ(u_a, U_a) − 1| + α|ρ(u_e, U_e) − 1| + β|ρ(u_a, U_e)| + γ|ρ(u_e, U_a)| ] / (1 + α + β + γ)

with ρ(·, U_a) taken in the aleatoric sweep and ρ(·, U_e) in the epistemic sweep; α = β = γ = 1 by default. This
is the paper's formula. The reference package `disentanglement-error` differs: its array-input label-noise
experiment scores the data-size experiment's targets (|ρ(u_a, U_a)| and |ρ(u_e, U_a) − 1|, so a perfect
disentangler scores 1/2 there), its weights sit on other terms than α, β, γ, and it always divides by 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.stats import rankdata

from uqseg.errors import InputError
from uqseg.metrics.rank_correlation import pearson_rows

Correlation = Literal["pearson", "spearman"]


def _levels(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[1] < 2:
        raise InputError(f"{name} must be levels (L,) or runs × levels (R, L) with L >= 2, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise InputError(f"{name} contains NaN or inf")
    return a


@dataclass(frozen=True)
class Sweep:
    """One controlled sweep (docs/method.md "Open questions"): per level, the true uncertainty it controls and the
    mean estimated AU and EU.

    Each array is (L,) for one run or (R, L) for R runs of the same L levels; ``truth`` may stay (L,) for all runs.
    ``truth`` must grow with the controlled uncertainty: the ambiguity level a for the aleatoric sweep;
    ``fraction_truth(fractions)`` (or −score, the reference package's proxy) for the epistemic sweep.
    """

    truth: Any
    au: Any
    eu: Any

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """truth, au, eu as R × L float arrays (truth repeated over runs where it is one row)."""
        au, eu = _levels(self.au, "au"), _levels(self.eu, "eu")
        truth = _levels(self.truth, "truth")
        if au.shape != eu.shape or truth.shape[1] != au.shape[1] or truth.shape[0] not in (1, au.shape[0]):
            raise InputError(f"sweep arrays do not match: truth {truth.shape}, au {au.shape}, eu {eu.shape}")
        return np.broadcast_to(truth, au.shape), au, eu


def fraction_truth(fractions: Any) -> np.ndarray:
    """True-EU proxy of the epistemic sweep from training-set fractions in (0, 1]: −log(fraction), 0 for the full
    set, growing as the data shrink (test performance rises about logarithmically with data size; docs/method.md
    "Open questions"). Spearman's ρ depends only on the order, so any decreasing function gives the same value."""
    f = np.asarray(fractions, dtype=np.float64)
    if f.size == 0 or not np.isfinite(f).all() or (f <= 0).any() or (f > 1).any():
        raise InputError(f"training-set fractions must lie in (0, 1], got {fractions}")
    return -np.log(f)


def level_correlation(x: Any, y: Any, method: Correlation = "pearson") -> np.ndarray:
    """ρ across levels for each run (rows of R × L arrays): Pearson, or Spearman (Pearson of average ranks); 0 where a
    row is constant, since a flat estimate does not follow the controlled uncertainty (docs/method.md "Open
    questions")."""
    a, b = _levels(x, "x"), _levels(y, "y")
    if a.shape != b.shape:
        raise InputError(f"level_correlation: shapes differ, {a.shape} vs {b.shape}")
    if method == "spearman":
        a, b = rankdata(a, axis=1), rankdata(b, axis=1)
    elif method != "pearson":
        raise InputError(f"method must be 'pearson' or 'spearman', got {method!r}")
    return pearson_rows(a, b)


@dataclass(frozen=True)
class DisentanglementError:
    """DE and its four correlations (each the mean over runs; ``per_run`` the DE of each run, ``de`` their mean)."""

    de: float
    au_vs_true_au: float
    eu_vs_true_eu: float
    au_vs_true_eu: float
    eu_vs_true_au: float
    per_run: np.ndarray


def disentanglement_error(aleatoric: Sweep, epistemic: Sweep, *, method: Correlation = "pearson",
                          alpha: float = 1.0, beta: float = 1.0, gamma: float = 1.0) -> DisentanglementError:
    """De Jong et al.'s disentanglement error (docs/method.md "Open questions"), the paper's term order.

    0 for a perfect disentangler (u_a follows U_a, u_e follows U_e, each flat under the other's sweep), 1/2 when AU
    and EU both follow both, 1 when they are swapped, at most 1.5 (estimates anti-correlated with their own truth).
    With several runs the DE of each run is computed and averaged, as the reference package does.
    """
    weights = np.array([1.0, alpha, beta, gamma])
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise InputError(f"alpha, beta, gamma must be finite and >= 0, got {alpha}, {beta}, {gamma}")
    ua_truth, ua_au, ua_eu = aleatoric.arrays()
    ue_truth, ue_au, ue_eu = epistemic.arrays()
    if ua_au.shape[0] != ue_au.shape[0]:
        raise InputError(f"the sweeps have different numbers of runs: {ua_au.shape[0]} vs {ue_au.shape[0]}")
    rho = np.stack([level_correlation(ua_au, ua_truth, method), level_correlation(ue_eu, ue_truth, method),
                    level_correlation(ue_au, ue_truth, method), level_correlation(ua_eu, ua_truth, method)])
    terms = np.abs(rho - np.array([1.0, 1.0, 0.0, 0.0])[:, None])
    per_run = weights @ terms / weights.sum()
    mean = rho.mean(1)
    return DisentanglementError(float(per_run.mean()), float(mean[0]), float(mean[1]), float(mean[2]),
                                float(mean[3]), per_run)
