"""Segmentation quality: Dice over annotators and GED (docs/method.md §3 Segmentation quality)."""

from __future__ import annotations

from typing import Any

import numpy as np

from uqseg.errors import InputError
from uqseg.metrics._check import as_array, swapped
from uqseg.metrics.raters import present_mean, present_raters


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


def _classes(num_classes: int | None, labels: dict[str, np.ndarray]) -> list[int]:
    """Foreground classes 1 … C−1. C = num_classes, or max(2, largest label + 1) when None; a label outside
    [0, C) raises InputError naming its argument."""
    present = {name: (int(a.min()), int(a.max())) for name, a in labels.items() if a.size}
    for name, (low, _) in present.items():
        if low < 0:
            raise InputError(f"{name} holds label {low}; class indices must be >= 0")
    if num_classes is None:
        num_classes = max([2, *(high + 1 for _, high in present.values())])
    if num_classes < 2:
        raise InputError(f"num_classes must be >= 2, got {num_classes}")
    for name, (_, high) in present.items():
        if high >= num_classes:
            raise InputError(f"{name} holds label {high}, outside the {num_classes} classes 0…{num_classes - 1}")
    return list(range(1, num_classes))


def dice(annotations: Any, pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Per-image Dice of pred (B×H×W) averaged over annotators (B×K×H×W), macro over foreground classes
    (docs/method.md §3). num_classes None: max(2, largest label + 1); labels outside it raise InputError.
    Absent annotators (uqseg.metrics.raters) are left out of the average."""
    if np.ndim(annotations) == 3 and np.ndim(pred) == 4:
        raise InputError("annotations must be B×K×H×W and pred B×H×W" + swapped("dice(annotations, pred)"))
    a = as_array(annotations, "annotations", 4, integer=True)
    p = as_array(pred, "pred", 3, integer=True)
    if a.shape[:1] + a.shape[2:] != p.shape:
        raise InputError(f"annotations {a.shape} do not match pred {p.shape}")
    present = present_raters(a)
    labelled = a if present is None else a[present]
    return present_mean(_overlap(p[:, None], a, _classes(num_classes, {"pred": p, "annotations": labelled}), "dice"),
                        present)


DISTANCES = ("dice", "iou")


def _pair_distances(x: np.ndarray, y: np.ndarray, classes: list[int]) -> dict[str, np.ndarray]:
    """1 − Dice and 1 − IoU of every pair (x_i, y_j), macro over classes, empty-empty distance 0; B×nx×ny each.

    x is nx×B×H×W and y ny×B×H×W label maps; the intersections come from one matrix product per class.
    """
    nx, b = x.shape[:2]
    ny = y.shape[0]
    sims: dict[str, list[np.ndarray]] = {k: [] for k in DISTANCES}
    for c in classes:
        xc = (x == c).reshape(nx, b, -1).transpose(1, 0, 2).astype(np.float64)
        yc = (y == c).reshape(ny, b, -1).transpose(1, 0, 2).astype(np.float64)
        inter = xc @ yc.transpose(0, 2, 1)
        sx, sy = xc.sum(2)[:, :, None], yc.sum(2)[:, None, :]
        for kind, num, den in (("dice", 2 * inter, sx + sy), ("iou", inter, sx + sy - inter)):
            sims[kind].append(np.where(den > 0, num / np.maximum(den, 1), 1.0))
    return {k: 1 - np.mean(v, axis=0) for k, v in sims.items()}


def instance_ged(annotations: Any, labels: Any, num_classes: int | None = None) -> dict[str, np.ndarray]:
    """Squared GED within each EU instance, for d = 1 − Dice and d = 1 − IoU (docs/method.md §3).

    labels: M×S×B×H×W class indices (the argmax of each instance's S AU samples; a model without EU passes its S
    samples as one instance, M = 1); annotations B×K×H×W. Per instance and image,
    GED = 2·E d(S, Y) − E d(S, S') − E d(Y, Y'), every expectation over all ordered pairs (self-pairs included).
    num_classes None: max(2, largest label + 1); labels outside it raise InputError. Expectations over Y run over
    each image's present annotators only (uqseg.metrics.raters).
    Returns {"dice": M×B, "iou": M×B}; the authors average these over instances.
    """
    if np.ndim(annotations) == 5 and np.ndim(labels) == 4:
        raise InputError("annotations must be B×K×H×W and labels M×S×B×H×W"
                         + swapped("instance_ged(annotations, labels)"))
    s = as_array(labels, "labels", 5, integer=True)
    return _instance_ged(s, annotations, num_classes, "labels")


def _instance_ged(s: np.ndarray, annotations: Any, num_classes: int | None, name: str) -> dict[str, np.ndarray]:
    """instance_ged of checked M×S×B×H×W labels `s`, named `name` in errors."""
    a = as_array(annotations, "annotations", 4, integer=True)
    if s.shape[2:3] + s.shape[3:] != a.shape[:1] + a.shape[2:]:
        hint = swapped(f"ged(annotations, {name})") if s.shape[1:2] + s.shape[3:] == a.shape[1:2] + a.shape[2:] else ""
        raise InputError(f"{name} {s.shape} do not match annotations {a.shape} as M×S×B×H×W and B×K×H×W{hint}")
    present = present_raters(a)
    cls = _classes(num_classes, {name: s, "annotations": a if present is None else a[present]})
    yy = _pair_distances(a.transpose(1, 0, 2, 3), a.transpose(1, 0, 2, 3), cls)
    if present is not None:
        pair = present[:, :, None] & present[:, None, :]
        yy = {k: (v * pair).sum((1, 2)) / pair.sum((1, 2)) for k, v in yy.items()}
    else:
        yy = {k: v.mean((1, 2)) for k, v in yy.items()}
    out: dict[str, list[np.ndarray]] = {k: [] for k in DISTANCES}
    for inst in s:
        sy, ss = _pair_distances(inst, a.transpose(1, 0, 2, 3), cls), _pair_distances(inst, inst, cls)
        for k in DISTANCES:
            cross = sy[k].mean((1, 2)) if present is None else present_mean(sy[k].mean(1), present)
            out[k].append(2 * cross - ss[k].mean((1, 2)) - yy[k])
    return {k: np.stack(v) for k, v in out.items()}


def ged(annotations: Any, samples: Any, num_classes: int | None = None, distance: str = "iou") -> np.ndarray:
    """Per-image squared GED of one pool of n samples: 2E d(S,Y) − E d(S,S') − E d(Y,Y') (docs/method.md §3).

    annotations: B×K×H×W; samples: n×B×H×W label maps (argmax of AU samples); d = 1 − IoU (default) or 1 − Dice.
    Empty-empty distance is 0. num_classes None: max(2, largest label + 1); labels outside it raise InputError.
    """
    if distance not in DISTANCES:
        raise InputError(f"distance must be 'iou' or 'dice', got {distance!r}")
    s = as_array(samples, "samples", 4, integer=True)
    return _instance_ged(s[None], annotations, num_classes, "samples")[distance][0]
