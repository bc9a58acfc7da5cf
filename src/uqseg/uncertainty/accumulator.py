"""Streaming TU/AU/EU over EU instances with memory independent of S·M (docs/method.md §1)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from uqseg.errors import InputError
from uqseg.uncertainty.maps import UncertaintyMaps, _entropy, check_probs, finish_eu


class UncertaintyAccumulator:
    """Accumulates Σ_m p_m and Σ_m H(p_m) over instances (docs/method.md §1).

    Precision: NumPy input accumulates in float64; torch input accumulates in float64 on CPU and in the input's
    dtype promoted to at least float32 on other devices. Memory is O(B·C·H·W). Every update is checked like
    ``decompose``'s input (``check_probs``: one fused min/max/sum pass and one host sync).
    """

    def __init__(self) -> None:
        self._sum_p: Any = None
        self._sum_h: Any = None
        self._count = 0

    def _add(self, p_m: Any) -> None:
        """Add a batch of instance means p_m (k×B×C×H×W)."""
        if isinstance(p_m, torch.Tensor):
            dtype = torch.float64 if p_m.device.type == "cpu" else torch.promote_types(p_m.dtype, torch.float32)
            p_m = p_m.to(dtype)
            sp, sh = p_m.sum(0), _entropy(p_m).sum(0)
        else:
            p_m = np.asarray(p_m, dtype=np.float64)
            sp, sh = p_m.sum(axis=0), _entropy(p_m).sum(axis=0)
        if self._sum_p is None:
            self._sum_p, self._sum_h = sp, sh
        else:
            if type(sp) is not type(self._sum_p) or tuple(sp.shape) != tuple(self._sum_p.shape):
                raise InputError(f"instance shape {tuple(sp.shape)} differs from earlier {tuple(self._sum_p.shape)}")
            self._sum_p = self._sum_p + sp
            self._sum_h = self._sum_h + sh
        self._count += p_m.shape[0]

    def update(self, instance: Any) -> None:
        """Add one EU instance given as S×B×C×H×W AU samples (S may be 1)."""
        check_probs(instance, "instance", 5)
        if instance.ndim != 5:
            raise InputError(f"instance must be S×B×C×H×W, got shape {tuple(instance.shape)}")
        self._add(instance.mean(0, keepdim=True) if isinstance(instance, torch.Tensor) else instance.mean(0)[None])

    def update_no_eu(self, samples: Any) -> None:
        """No-EU convention: each of the S samples (S×B×C×H×W) is its own instance (docs/method.md §1)."""
        check_probs(samples, "samples", 5)
        if samples.ndim != 5:
            raise InputError(f"samples must be S×B×C×H×W, got shape {tuple(samples.shape)}")
        self._add(samples)

    def result(self) -> UncertaintyMaps:
        """Return the B×H×W maps and the B×C×H×W mean prediction."""
        if self._count == 0:
            raise InputError("UncertaintyAccumulator.result() called before any update")
        mean = self._sum_p / self._count
        tu = _entropy(mean)
        au = self._sum_h / self._count
        return UncertaintyMaps(tu=tu, au=au, eu=finish_eu(tu, au), mean=mean)
