"""Segmentation quality: Dice over annotators and GED (SPEC §3 Segmentation quality)."""

from __future__ import annotations

from typing import Any

import numpy as np

from uqseg.errors import InputError
from uqseg.metrics._check import as_array


def _overlap(a: np.ndarray, b: np.ndarray, classes: list[int], kind: str) -> np.ndarray:
    """Per-pair similarity (Dice or IoU) macro-averaged over classes; empty-empty = 1. a, b broadcast (...,H,W)."""
    vals = []
    for c in classes:
        x, y = a == c, b == c
        inter = (x & y).sum((-2, -1)).astype(np.float64)
        sx, sy = x.sum((-2, -1)), y.sum((-2, -1))
        den = sx + sy if kind == "dice" else sx + sy - inter
        num = 2 * inter if kind == "dice" else inter
        vals.append(np.where(den > 0, num / np.maximum(den, 1), 1.0))
    return np.mean(vals, axis=0)


def _classes(num_classes: int) -> list[int]:
    if num_classes < 2:
        raise InputError(f"num_classes must be >= 2, got {num_classes}")
    return list(range(1, num_classes))


def dice(pred: Any, annotations: Any, num_classes: int = 2) -> np.ndarray:
    """Per-image Dice of pred (B×H×W) averaged over annotators (B×K×H×W), macro over foreground classes."""
    p = as_array(pred, "pred", 3, integer=True)
    a = as_array(annotations, "annotations", 4, integer=True)
    if a.shape[:1] + a.shape[2:] != p.shape:
        raise InputError(f"annotations {a.shape} do not match pred {p.shape}")
    return _overlap(p[:, None], a, _classes(num_classes), "dice").mean(1)


def ged(samples: Any, annotations: Any, num_classes: int = 2, distance: str = "iou") -> np.ndarray:
    """Per-image squared GED: 2E d(S,Y) − E d(S,S') − E d(Y,Y'), d = 1−IoU (default) or 1−Dice.

    samples: n×B×H×W label maps (argmax of AU samples); annotations B×K×H×W. Empty-empty distance is 0.
    """
    if distance not in ("iou", "dice"):
        raise InputError(f"distance must be 'iou' or 'dice', got {distance!r}")
    s = as_array(samples, "samples", 4, integer=True)
    a = as_array(annotations, "annotations", 4, integer=True)
    if s.shape[1:2] + s.shape[2:] != a.shape[:1] + a.shape[2:]:
        raise InputError(f"samples {s.shape} do not match annotations {a.shape}")
    cls = _classes(num_classes)
    s = s.transpose(1, 0, 2, 3)
    sy = 1 - _overlap(s[:, :, None], a[:, None], cls, distance)
    ss = 1 - _overlap(s[:, :, None], s[:, None], cls, distance)
    yy = 1 - _overlap(a[:, :, None], a[:, None], cls, distance)
    return 2 * sy.mean((1, 2)) - ss.mean((1, 2)) - yy.mean((1, 2))
