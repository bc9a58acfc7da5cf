"""OODD image scores from pixel maps: image, patch, threshold, area, border (docs/method.md §3 OODD)."""

from __future__ import annotations

from typing import Any

import numpy as np

from uqseg.errors import InputError
from uqseg.metrics._check import as_array
from uqseg.vocabulary import STRATEGIES


def border_count(pred: np.ndarray) -> np.ndarray:
    """Number of horizontally or vertically adjacent pixel pairs with different labels, per image (B×H×W)."""
    return (pred[:, 1:, :] != pred[:, :-1, :]).sum((1, 2)) + (pred[:, :, 1:] != pred[:, :, :-1]).sum((1, 2))


def patch_max(u: np.ndarray, size: int) -> np.ndarray:
    """Maximum over valid positions of the sum of u in a size×size window, per image (B×H×W)."""
    h, w = u.shape[1:]
    k = min(size, h, w)
    c = np.zeros((u.shape[0], h + 1, w + 1))
    c[:, 1:, 1:] = u.cumsum(1).cumsum(2)
    s = c[:, k:, k:] - c[:, :-k, k:] - c[:, k:, :-k] + c[:, :-k, :-k]
    return s.reshape(u.shape[0], -1).max(1)


def aggregate(u: Any, pred: Any, strategy: str, *, tau: float | None = None, patch_size: int = 10) -> np.ndarray:
    """Image scores (B,) of maps u (B×H×W) with prediction pred (B×H×W, 0 = background) (docs/method.md §3 OODD).

    A patch larger than the image is shrunk to the image's shorter side. `threshold` needs tau.
    """
    x = as_array(u, "u", 3)
    p = as_array(pred, "pred", 3, integer=True)
    if x.shape != p.shape:
        raise InputError(f"u {x.shape} and pred {p.shape} must have the same shape")
    if strategy == "image":
        return x.mean((1, 2))
    if strategy == "patch":
        if patch_size < 1:
            raise InputError(f"patch_size must be >= 1, got {patch_size}")
        return patch_max(x, patch_size)
    if strategy == "threshold":
        if tau is None or not np.isfinite(tau):
            raise InputError("threshold aggregation needs a finite tau")
        m = x >= tau
        n = m.sum((1, 2))
        return np.where(n > 0, (x * m).sum((1, 2)) / np.maximum(n, 1), 0.0)
    if strategy == "area":
        return x.sum((1, 2)) / np.maximum((p != 0).sum((1, 2)), 1)
    if strategy == "border":
        return x.sum((1, 2)) / np.maximum(border_count(p), 1)
    raise InputError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
