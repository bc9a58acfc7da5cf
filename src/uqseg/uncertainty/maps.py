"""Per-pixel entropy decomposition TU/AU/EU (docs/method.md §1, paper Eq. 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from uqseg.errors import InputError

#: Negative EU values from rounding with magnitude below this are clipped to 0; larger negatives raise.
EU_CLIP_TOL = 1e-6


@dataclass
class UncertaintyMaps:
    """TU, AU, EU maps (...×H×W) and the mean prediction mean_m p_m (...×C×H×W)."""

    tu: Any
    au: Any
    eu: Any
    mean: Any


def entropy(p: Any) -> Any:
    """Natural-log entropy over the class axis -3 with 0·log 0 = 0 (docs/method.md §1); InputError unless p holds
    probabilities (see check_probs)."""
    check_probs(p, "probs", 3)
    return _entropy(p)


def _entropy(p: Any) -> Any:
    """entropy without the input check, for arrays built from checked probabilities."""
    if isinstance(p, torch.Tensor):
        return -(torch.special.xlogy(p, p)).sum(dim=-3)
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-3)


#: Largest |Σ_c p_c − 1| and largest excess over 1 accepted as rounding (at least C float epsilons).
PROB_TOL = 1e-3


def _extremes(probs: Any) -> tuple[float, float, float]:
    """(min, max, largest |Σ_c p_c − 1|) of probs in one host sync; NaN or inf when probs holds NaN or inf."""
    if isinstance(probs, torch.Tensor):
        x = probs if probs.dtype in (torch.float32, torch.float64) else probs.float()
        low, high = torch.aminmax(x)
        return tuple(torch.stack([low, high, (x.sum(-3) - 1).abs().amax()]).tolist())  # type: ignore[return-value]
    x = probs if probs.dtype.itemsize >= 4 else probs.astype(np.float32)
    return float(x.min()), float(x.max()), float(np.abs(x.sum(-3) - 1).max())


def check_probs(probs: Any, name: str, min_ndim: int) -> None:
    """Raise InputError unless probs is a finite probability array with at least min_ndim axes: values in [0, 1]
    and summing to 1 over the class axis -3, within PROB_TOL (negatives within 1e-6) (docs/method.md §1)."""
    if not isinstance(probs, (np.ndarray, torch.Tensor)):
        raise InputError(f"{name} must be a numpy array or torch tensor, got {type(probs).__name__}")
    if probs.ndim < min_ndim:
        raise InputError(f"{name} must have at least {min_ndim} axes (class axis -3), got shape {tuple(probs.shape)}")
    if 0 in tuple(probs.shape)[: probs.ndim - 2]:
        raise InputError(f"{name} has an empty sample, instance or class axis: shape {tuple(probs.shape)}")
    floating = torch.is_floating_point(probs) if isinstance(probs, torch.Tensor) else np.issubdtype(probs.dtype,
                                                                                                     np.floating)
    if not floating:
        raise InputError(f"{name} must be floating point, got {probs.dtype}")
    if _size(probs) == 0:
        return
    low, high, off = _extremes(probs)
    eps = torch.finfo(probs.dtype).eps if isinstance(probs, torch.Tensor) else np.finfo(probs.dtype).eps
    tol = max(PROB_TOL, float(eps) * probs.shape[-3])
    if not np.isfinite([low, high, off]).all():
        raise InputError(f"{name} contains NaN or inf")
    if low < -1e-6:
        raise InputError(f"{name} contains negative probabilities (min {low:.3g})")
    if high > 1 + tol:
        raise InputError(f"{name} holds probabilities that exceed 1 (max {high:.3g})")
    if off > tol:
        raise InputError(f"{name} does not sum to 1 over the class axis -3 (off by up to {off:.3g})")


def _size(x: Any) -> int:
    """Number of elements of an array or tensor."""
    return x.numel() if isinstance(x, torch.Tensor) else int(x.size)


def finish_eu(tu: Any, au: Any) -> Any:
    """EU = TU − AU; rounding negatives within EU_CLIP_TOL are set to 0, larger ones raise InputError."""
    eu = tu - au
    worst = float(eu.min()) if _size(eu) > 0 else 0.0
    if worst < -EU_CLIP_TOL:
        raise InputError(f"EU = TU - AU is negative ({worst:.3g}); probabilities do not sum to 1 over classes")
    return eu.clamp_min(0) if isinstance(eu, torch.Tensor) else np.maximum(eu, 0.0)


def discretize(probs: Any) -> Any:
    """One-hot of the argmax over the class axis -3, same type, dtype and device (paper appendix A.3).

    Ties go to the lowest class index. Used to run the decomposition on discretised AU samples.
    """
    check_probs(probs, "probs", 3)
    if isinstance(probs, torch.Tensor):
        hot = torch.nn.functional.one_hot(probs.argmax(-3), probs.shape[-3]).movedim(-1, -3)
        return hot.to(probs.dtype)
    c = probs.shape[-3]
    return (np.arange(c).reshape(c, 1, 1) == np.expand_dims(probs.argmax(-3), -3)).astype(probs.dtype)


def decompose(probs: Any, *, nested: bool = True) -> UncertaintyMaps:
    """TU/AU/EU of probs (M, S, ..., C, H, W) when nested, else (M, ..., C, H, W) (docs/method.md §1).

    Nested: p_m = mean_s p_{m,s}; TU = H(mean_m p_m), AU = mean_m H(p_m), EU = TU − AU. NumPy in gives NumPy
    (float64) out; torch in gives torch out on the same device and dtype.
    """
    check_probs(probs, "probs", 5 if nested else 4)
    if not isinstance(probs, torch.Tensor):
        probs = np.asarray(probs, dtype=np.float64)
    p_m = probs.mean(1) if nested else probs
    mean = p_m.mean(0)
    tu = _entropy(mean)
    au = _entropy(p_m).mean(0)
    return UncertaintyMaps(tu=tu, au=au, eu=finish_eu(tu, au), mean=mean)
