"""The typed batch that ``Evaluator.add_validation`` and ``Evaluator.add`` stream (docs/method.md §3, docs/library.md).

A batch holds B images of one split: the three uncertainty maps, the mean prediction and the annotations, plus
optional per-image inputs. Every array is checked on construction and every error names the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from uqseg.errors import InputError
from uqseg.metrics._check import as_array
from uqseg.metrics.raters import ABSENT, present_raters


@dataclass(frozen=True)
class EvalBatch:
    """B images of one split for ``Evaluator`` (docs/method.md §1, §3).

    Required:
        tu, au, eu: B×H×W total, aleatoric and epistemic uncertainty maps (``uqseg.uncertainty.decompose``).
        mean: B×C×H×W mean prediction mean_m p_m (its argmax is the prediction unless ``pred`` is given).
        annotations: B×K×H×W integer class indices of K annotators (``ABSENT`` = −1 for an annotator who did not
            label an image).
    Optional (None = not given):
        pred: B×H×W integer prediction; default ``mean.argmax(1)``.
        bg_fraction: (B,) predicted background fraction in [0, 1], for the OODD threshold τ (validation only).
        oracle: B×C×H×W true label distribution, for the oracle NCC (synthetic data).
        sample_labels: M×S×B×H×W (or L×B×H×W) integer labels of the AU samples of each EU instance, for GED.
        ged_dice, ged_iou: (B,) precomputed per-image GED (both or neither), used instead of ``sample_labels``.
    """

    tu: Any
    au: Any
    eu: Any
    mean: Any
    annotations: Any
    pred: Any = None
    bg_fraction: Any = None
    oracle: Any = None
    sample_labels: Any = None
    ged_dice: Any = None
    ged_iou: Any = None

    def __post_init__(self) -> None:
        mean = as_array(self.mean, "mean", 4)
        b, c, h, w = mean.shape
        image = (b, h, w)
        self._set("mean", mean)
        for name in ("tu", "au", "eu"):
            u = as_array(getattr(self, name), name, 3)
            if u.shape != image:
                raise InputError(f"{name} has shape {u.shape}, expected B×H×W = {image} (from mean {mean.shape})")
            self._set(name, u)
        ann = as_array(self.annotations, "annotations", 4, integer=True)
        if ann.shape[:1] + ann.shape[2:] != image:
            raise InputError(f"annotations has shape {ann.shape}, expected B×K×H×W with B×H×W = {image}")
        if ann.size and (ann.min() < ABSENT or ann.max() >= c):
            raise InputError(f"annotations holds labels outside [0, {c - 1}] (or ABSENT, {ABSENT})")
        present_raters(ann)
        self._set("annotations", ann)
        if self.pred is not None:
            pred = as_array(self.pred, "pred", 3, integer=True)
            if pred.shape != image:
                raise InputError(f"pred has shape {pred.shape}, expected B×H×W = {image}")
            if pred.size and (pred.min() < 0 or pred.max() >= c):
                raise InputError(f"pred holds labels outside [0, {c - 1}]")
            self._set("pred", pred)
        if self.bg_fraction is not None:
            bg = as_array(self.bg_fraction, "bg_fraction", 1)
            if bg.shape != (b,) or (bg < 0).any() or (bg > 1).any():
                raise InputError(f"bg_fraction must be {b} values in [0, 1], got shape {bg.shape}")
            self._set("bg_fraction", bg)
        if self.oracle is not None:
            oracle = as_array(self.oracle, "oracle", 4)
            if oracle.shape != mean.shape:
                raise InputError(f"oracle has shape {oracle.shape}, expected B×C×H×W = {mean.shape}")
            self._set("oracle", oracle)
        if (self.ged_dice is None) != (self.ged_iou is None):
            raise InputError("give both ged_dice and ged_iou, or neither")
        for name in ("ged_dice", "ged_iou"):
            if getattr(self, name) is not None:
                v = as_array(getattr(self, name), name, 1)
                if v.shape != (b,):
                    raise InputError(f"{name} has shape {v.shape}, expected ({b},)")
                self._set(name, v)
        if self.sample_labels is not None:
            labels = as_array(self.sample_labels, "sample_labels", integer=True)
            labels = labels[:, None] if labels.ndim == 4 else labels
            if labels.ndim != 5 or labels.shape[2:] != image:
                raise InputError(f"sample_labels must be M×S×B×H×W or L×B×H×W with B×H×W = {image}, got shape "
                                 f"{labels.shape}")
            self._set("sample_labels", labels)

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    @property
    def num_classes(self) -> int:
        """C, the class axis of ``mean``."""
        return int(self.mean.shape[1])

    @property
    def prediction(self) -> np.ndarray:
        """``pred`` when given, else the argmax of ``mean`` over classes (B×H×W)."""
        return self.mean.argmax(1) if self.pred is None else self.pred

    def with_maps(self, tu: Any, au: Any, eu: Any) -> EvalBatch:
        """A copy with other uncertainty maps, every other field shared."""
        return replace(self, tu=tu, au=au, eu=eu)


FIELDS = tuple(f.name for f in fields(EvalBatch))


def as_batch(batch: EvalBatch | Mapping[str, Any]) -> EvalBatch:
    """An EvalBatch as is, or one built from a mapping of its field names (unknown keys raise InputError)."""
    if isinstance(batch, EvalBatch):
        return batch
    if not isinstance(batch, Mapping):
        raise InputError(f"a batch must be an EvalBatch or a mapping of its fields, got {type(batch).__name__}")
    unknown = sorted(set(batch) - set(FIELDS))
    if unknown:
        raise InputError(f"batch has unknown fields {unknown}; EvalBatch fields are {list(FIELDS)}")
    missing = [k for k in ("tu", "au", "eu", "mean", "annotations") if k not in batch]
    if missing:
        raise InputError(f"batch lacks {missing[0]!r}")
    return EvalBatch(**batch)
