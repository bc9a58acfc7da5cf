"""The exact annotator model shared by the synthetic datasets.

Every object in a synthetic image has a soft profile ``p(x) ∈ [0, 1]`` (1 inside, 0 outside, a sigmoid ramp across
its edge). An annotator draws a *level* ``t`` from a finite set ``LEVEL_OFFSETS`` scaled by the ambiguity ``a``:
``t ∈ {0.5 + a·o : o ∈ LEVEL_OFFSETS}``, each with probability ``1/L``, and marks the object where ``p(x) ≥ t``.
Because the marked regions are nested, the probability that a random annotator marks pixel ``x`` is exactly

    F(x) = (1/L) · #{l : p(x) ≥ t_l},

which is what :func:`level_fraction` computes with the same comparisons the annotators use. ``a = 0`` collapses all
levels to 0.5 (every annotator draws the same contour).
"""

from __future__ import annotations

import numpy as np

LEVEL_OFFSETS = np.array([-0.3, -0.15, 0.0, 0.15, 0.3])


def levels(ambiguity: float) -> np.ndarray:
    """The L levels ``0.5 + ambiguity·LEVEL_OFFSETS`` (float32, inside (0, 1) for ambiguity ≤ 1.5)."""
    return (0.5 + float(ambiguity) * LEVEL_OFFSETS).astype(np.float32)


def level_fraction(profile: np.ndarray, level_values: np.ndarray) -> np.ndarray:
    """``F(x)``: the fraction of the equally likely levels at or below ``profile`` (float32, profile's shape)."""
    count = np.zeros(profile.shape, dtype=np.float32)
    for level in level_values:
        count += profile >= level
    return count / np.float32(len(level_values))


def draw_levels(rng: np.random.Generator, n_images: int, n_annotators: int, level_values: np.ndarray) -> np.ndarray:
    """Each annotator's level for each image, drawn uniformly from ``level_values``: float32 N×K."""
    return level_values[rng.integers(0, len(level_values), size=(n_images, n_annotators))]


def mark(profile: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """Masks N×K×H×W where ``profile`` (N×H×W) reaches each annotator's level (``drawn``, N×K)."""
    return profile[:, None] >= drawn[:, :, None, None]
