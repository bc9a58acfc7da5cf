"""AU–EU rank correlation of a split (docs/method.md "Open questions"; Mucsányi et al., NeurIPS 2024 D&B).

Spearman's ρ between the AU and EU estimates, three ways: over the pixels of the split (a seeded uniform sample,
exact when the split fits in it), within each image averaged over images, and over the images' mean AU and EU.
Values near 1 mean the two estimates rank pixels or images alike and cannot carry different information.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from uqseg.errors import InputError
from uqseg.metrics._check import as_array, same_shape

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair of x and y (…×n); 0 where either row is constant (docs/method.md §3,
    the NCC convention: a constant estimate carries no association)."""
    xc = x - x.mean(-1, keepdims=True)
    yc = y - y.mean(-1, keepdims=True)
    sx, sy = np.sqrt((xc**2).sum(-1)), np.sqrt((yc**2).sum(-1))
    tol = 1e-12 * np.sqrt(x.shape[-1])
    ok = (sx > tol * np.maximum(1, np.abs(x).max(-1))) & (sy > tol * np.maximum(1, np.abs(y).max(-1)))
    return np.where(ok, (xc * yc).sum(-1) / np.where(ok, sx * sy, 1.0), 0.0)


def spearman(x: Any, y: Any) -> float:
    """Spearman's ρ of two equal-length 1-D samples: the Pearson correlation of their average ranks (ties share
    the mean rank, as ``scipy.stats.spearmanr``); 0 when either sample is constant (docs/method.md "Open
    questions")."""
    a, b = as_array(x, "x", 1), as_array(y, "y", 1)
    same_shape(a, b, "spearman(x, y)")
    if a.size < 2:
        raise InputError(f"spearman needs at least 2 values, got {a.size}")
    return float(pearson_rows(rankdata(a), rankdata(b)))


def pixel_keys(index: np.ndarray, seed: int) -> np.ndarray:
    """SplitMix64 hash of global pixel indices under ``seed``: a fixed pseudo-random priority per pixel, so the
    sample kept does not depend on how the split is cut into batches."""
    with np.errstate(over="ignore"):  # arithmetic modulo 2**64 is the hash
        x = np.asarray(index).astype(np.uint64) + np.uint64(seed % (1 << 64)) * _GOLDEN + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        return x ^ (x >> np.uint64(31))


class RankCorrelation:
    """Streamed AU–EU rank correlation of one split (docs/method.md "Open questions").

    ``add`` takes AU and EU maps (B×H×W) batch by batch, images in split order. It keeps the ``max_pixels`` pixels
    with the smallest hash priorities (``pixel_keys``): a uniform sample without replacement, seeded, the same
    however the split is batched, and every pixel when the split has at most ``max_pixels``. It also keeps each
    image's mean AU and EU and its within-image ρ, so ``image`` and ``pixel_per_image`` are exact.
    """

    def __init__(self, max_pixels: int = 1_000_000, seed: int = 0) -> None:
        if max_pixels < 2:
            raise InputError(f"max_pixels must be >= 2, got {max_pixels}")
        self.max_pixels, self.seed = max_pixels, seed
        self._index = np.zeros(0, dtype=np.int64)
        self._au, self._eu = np.zeros(0), np.zeros(0)
        self._pixels = 0
        self._mean_au: list[np.ndarray] = []
        self._mean_eu: list[np.ndarray] = []
        self._within: list[np.ndarray] = []

    def add(self, au: Any, eu: Any) -> None:
        """Stream one batch of AU and EU maps, B×H×W, of the split's next B images."""
        a, e = as_array(au, "au", 3), as_array(eu, "eu", 3)
        same_shape(a, e, "RankCorrelation.add(au, eu)")
        if a.shape[1] * a.shape[2] < 2:
            raise InputError(f"maps need at least 2 pixels, got shape {a.shape}")
        flat_a, flat_e = a.reshape(a.shape[0], -1), e.reshape(e.shape[0], -1)
        self._mean_au.append(flat_a.mean(1))
        self._mean_eu.append(flat_e.mean(1))
        self._within.append(pearson_rows(rankdata(flat_a, axis=1), rankdata(flat_e, axis=1)))
        index = np.concatenate([self._index, np.arange(self._pixels, self._pixels + a.size)])
        pool_a, pool_e = np.concatenate([self._au, a.ravel()]), np.concatenate([self._eu, e.ravel()])
        self._pixels += a.size
        if index.size > self.max_pixels:
            keep = np.sort(np.argpartition(pixel_keys(index, self.seed), self.max_pixels - 1)[: self.max_pixels])
            index, pool_a, pool_e = index[keep], pool_a[keep], pool_e[keep]
        self._index, self._au, self._eu = index, pool_a, pool_e

    @property
    def images(self) -> int:
        """Number of images streamed."""
        return sum(m.size for m in self._mean_au)

    @property
    def pixels(self) -> int:
        """Number of pixels streamed (the sample holds min(pixels, max_pixels) of them)."""
        return self._pixels

    def sample(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sampled pixels' global indices (image-major, row-major within an image) and their AU and EU values,
        in split order."""
        return self._index, self._au, self._eu

    def pixel(self) -> float:
        """Spearman's ρ between AU and EU over the sampled pixels of the split."""
        if self._pixels == 0:
            raise InputError("no maps were added")
        return spearman(self._au, self._eu)

    def pixel_per_image(self) -> float:
        """Mean over images of Spearman's ρ between AU and EU within each image (exact)."""
        if not self._within:
            raise InputError("no maps were added")
        return float(np.mean(np.concatenate(self._within)))

    def image(self) -> float:
        """Spearman's ρ between the images' mean AU and mean EU (exact; needs at least 2 images)."""
        if self.images < 2:
            raise InputError(f"image-level rank correlation needs at least 2 images, got {self.images}")
        return spearman(np.concatenate(self._mean_au), np.concatenate(self._mean_eu))
