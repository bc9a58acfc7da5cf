"""Input validation shared by the metric functions."""

from __future__ import annotations

from typing import Any

import numpy as np

from uqseg.errors import InputError


def as_array(x: Any, name: str, ndim: int | None = None, *, integer: bool = False) -> np.ndarray:
    """Convert x to a NumPy array, checking dimensionality, dtype and finiteness; errors name the argument."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: cannot convert to an array ({exc})") from exc
    if ndim is not None and a.ndim != ndim:
        raise InputError(f"{name} must have {ndim} axes, got shape {a.shape}")
    if integer:
        if not np.issubdtype(a.dtype, np.integer):
            raise InputError(f"{name} must hold integer class indices, got {a.dtype}")
        return a.astype(np.int64, copy=False)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise InputError(f"{name} must be real-valued, got {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if not np.isfinite(a).all():
        raise InputError(f"{name} contains NaN or inf")
    return a


def same_shape(a: np.ndarray, b: np.ndarray, names: str) -> None:
    """Raise InputError unless a and b have the same shape."""
    if a.shape != b.shape:
        raise InputError(f"{names}: shapes differ, {a.shape} vs {b.shape}")


def swapped(call: str) -> str:
    """The hint added to an error when a metric's arguments look swapped: metric functions take the reference
    (annotations, correctness) first and the model's output second, like scikit-learn's (y_true, y_pred)."""
    return f"; the arguments look swapped: the call is {call}, reference first, model output second"
