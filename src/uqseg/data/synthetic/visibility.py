"""A model-free proxy for how visible a distribution shift is: simple image statistics, AUROC ID vs shifted.

Each statistic is computed per image; its AUROC separating the ID images from the shifted ones is taken two-sided
(max(a, 1 − a), a shift may raise or lower it). The proxy of a shift is the largest AUROC over the statistics. It
says whether a trivial detector could see the shift; trained models can see more or less (docs/datasets.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.metrics import roc_auc_score

from uqseg.errors import InputError

EPS = 1e-12
BAND_SIGMAS = (1.0, 2.0)


def band_energy(images: np.ndarray) -> np.ndarray:
    """log of the mean squared difference of Gaussians (σ = 1 and 2 px) over the image variance, per image.

    The band sits above the synthetic images' pixel noise, so removing or adding that noise alone barely moves it.
    """
    x = images.astype(np.float64)
    band = gaussian_filter(x, BAND_SIGMAS[0], axes=(-2, -1)) - gaussian_filter(x, BAND_SIGMAS[1], axes=(-2, -1))
    return np.log(np.mean(band ** 2, axis=(1, 2, 3)) + EPS) - np.log(x.var(axis=(1, 2, 3)) + EPS)


def spread(images: np.ndarray) -> np.ndarray:
    """The intensity std over the intensity range (how evenly the range is used), per N×C×H×W image."""
    x = images.astype(np.float64)
    return x.std(axis=(1, 2, 3)) / (np.ptp(x, axis=(1, 2, 3)) + EPS)


STATISTICS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"band_energy": band_energy, "spread": spread}


def statistic_aurocs(reference: np.ndarray, shifted: np.ndarray) -> dict[str, float]:
    """Two-sided AUROC of each statistic separating ``reference`` from ``shifted`` images (N×C×H×W or N×H×W)."""
    ref, out = (np.asarray(a)[:, None] if np.ndim(a) == 3 else np.asarray(a) for a in (reference, shifted))
    if ref.ndim != 4 or out.ndim != 4 or ref.shape[1:] != out.shape[1:]:
        raise InputError(f"shift visibility: images must be N×H×W or N×C×H×W of one shape, got {np.shape(reference)} "
                         f"and {np.shape(shifted)}")
    labels = np.r_[np.zeros(len(ref)), np.ones(len(out))]
    aurocs = {}
    for name, statistic in STATISTICS.items():
        auroc = float(roc_auc_score(labels, np.r_[statistic(ref), statistic(out)]))
        aurocs[name] = max(auroc, 1.0 - auroc)
    return aurocs


def shift_visibility(reference: np.ndarray, shifted: np.ndarray) -> float:
    """The proxy: the largest two-sided AUROC of :data:`STATISTICS` between ID and shifted images."""
    return max(statistic_aurocs(reference, shifted).values())
