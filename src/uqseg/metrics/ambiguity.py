"""AMB: annotator variance and per-image NCC (docs/method.md §3 AMB)."""

from __future__ import annotations

from typing import Any

import numpy as np

from uqseg.errors import InputError
from uqseg.metrics._check import as_array, same_shape
from uqseg.metrics.raters import present_raters


def annotator_variance(annotations: Any) -> np.ndarray:
    """Population variance (ddof 0) of annotators' class indices; annotations (...,K,H,W) -> (...,H,W). Over the
    present annotators only when some are absent (uqseg.metrics.raters)."""
    a = as_array(annotations, "annotations", integer=True)
    if a.ndim < 3:
        raise InputError(f"annotations must have at least 3 axes (K×H×W), got shape {a.shape}")
    present = present_raters(a)
    if present is None:
        return a.astype(np.float64).var(axis=-3)
    weight = present[..., None, None].astype(np.float64)
    count = weight.sum(-3)
    mean = (a * weight).sum(-3) / count
    return (weight * (a - mean[..., None, :, :]) ** 2).sum(-3) / count


def ncc(a: Any, b: Any) -> np.ndarray | float:
    """Pearson correlation per image of two maps (...,H,W); 0 when either map is constant (docs/method.md §3, §9.4)."""
    x = as_array(a, "a")
    y = as_array(b, "b")
    same_shape(x, y, "ncc(a, b)")
    if x.ndim < 2 or x.shape[-1] * x.shape[-2] == 0:
        raise InputError(f"ncc(a, b): maps must be non-empty (...,H,W), got shape {x.shape}")
    x = x.reshape(*x.shape[:-2], x.shape[-2] * x.shape[-1])
    y = y.reshape(*y.shape[:-2], y.shape[-2] * y.shape[-1])
    xc = x - x.mean(-1, keepdims=True)
    yc = y - y.mean(-1, keepdims=True)
    sx = np.sqrt((xc**2).sum(-1))
    sy = np.sqrt((yc**2).sum(-1))
    tol = 1e-12 * np.sqrt(x.shape[-1])
    ok = (sx > tol * np.maximum(1, np.abs(x).max(-1))) & (sy > tol * np.maximum(1, np.abs(y).max(-1)))
    out = np.where(ok, (xc * yc).sum(-1) / np.where(ok, sx * sy, 1.0), 0.0)
    return float(out) if out.ndim == 0 else out
