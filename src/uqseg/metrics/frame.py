"""Border-frame diagnostic: does an uncertainty map light up along the image edge, where nobody annotates?

A network that has not learnt what zero padding means gives the outer pixels of every image a high uncertainty.
That frame carries no information about the objects, yet it feeds every image-level OOD score and every NCC. The
diagnostic compares, on background pixels, the mean uncertainty of the outer ``ring``-pixel frame with the mean
uncertainty of interior background pixels at the same distance from the nearest annotated pixel (docs/method.md §3),
so a map that merely decays with the distance from the objects scores 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import distance_transform_edt

from uqseg.errors import InputError
from uqseg.metrics._check import as_array, swapped

NO_ANNOTATION = -1


def _distance_bins(annotated: np.ndarray) -> np.ndarray:
    """Integer distance (floor of the Euclidean one) of each pixel to the nearest annotated pixel, per image;
    ``NO_ANNOTATION`` everywhere in an image without annotated pixels."""
    bins = np.full(annotated.shape, NO_ANNOTATION, dtype=np.int64)
    for i, image in enumerate(annotated):
        if image.any():
            bins[i] = np.floor(distance_transform_edt(~image)).astype(np.int64)
    return bins


def frame_ratio(annotations: Any, maps: Any, ring: int = 2) -> float:
    """Mean uncertainty on the outer ``ring`` pixels over that on interior background at matched distances.

    ``maps`` is N×H×W, ``annotations`` N×K×H×W class indices (0 = background). Only pixels that no annotator marks
    are used. Pixels are grouped by their integer distance to the nearest annotated pixel of their image (images
    without annotations form one group of their own); the ratio is Σ_d n_d·frame_d / Σ_d n_d·interior_d over the
    groups d holding both frame and interior pixels, n_d the number of frame pixels. NaN when no group has both, or
    when the matched interior mean is 0.
    """
    if np.ndim(annotations) == 3 and np.ndim(maps) == 4:
        raise InputError("annotations must be N×K×H×W and maps N×H×W" + swapped("frame_ratio(annotations, maps)"))
    ann = as_array(annotations, "annotations", 4, integer=True)
    u = as_array(maps, "maps", 3)
    if ann.shape[:1] + ann.shape[2:] != u.shape:
        raise InputError(f"annotations {ann.shape} do not match maps {u.shape} as N×K×H×W and N×H×W")
    h, w = u.shape[1:]
    if ring < 1 or 2 * ring >= min(h, w):
        raise InputError(f"ring must be >= 1 and leave an interior in {h}×{w} images, got {ring}")
    annotated = (ann > 0).any(axis=1)  # an absent annotator (ABSENT, -1) marks nothing
    on_frame = np.ones((h, w), dtype=bool)
    on_frame[ring:-ring, ring:-ring] = False
    frame = np.broadcast_to(on_frame, u.shape) & ~annotated
    interior = ~np.broadcast_to(on_frame, u.shape) & ~annotated
    bins = _distance_bins(annotated) - NO_ANNOTATION
    size = int(bins.max()) + 1
    n_frame = np.bincount(bins[frame], minlength=size)
    n_interior = np.bincount(bins[interior], minlength=size)
    sum_frame = np.bincount(bins[frame], weights=u[frame], minlength=size)
    sum_interior = np.bincount(bins[interior], weights=u[interior], minlength=size)
    both = (n_frame > 0) & (n_interior > 0)
    if not both.any():
        return float("nan")
    matched_interior = float(np.sum(n_frame[both] * sum_interior[both] / n_interior[both]))
    if matched_interior <= 0:
        return float("nan")
    return float(np.sum(sum_frame[both]) / matched_interior)
