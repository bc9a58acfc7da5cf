"""OODD: AUROC of ID (label 0) vs OOD (label 1) image scores (docs/method.md §3 OODD)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from uqseg.errors import InputError
from uqseg.metrics._check import as_array


def auroc(id_scores: Any, ood_scores: Any) -> float:
    """AUROC with OOD = 1 as positive; raises InputError when either side is empty."""
    a = as_array(id_scores, "id_scores", 1)
    b = as_array(ood_scores, "ood_scores", 1)
    if a.size == 0 or b.size == 0:
        raise InputError("auroc needs at least one ID and one OOD score (single class)")
    y = np.r_[np.zeros(a.size), np.ones(b.size)]
    return float(roc_auc_score(y, np.r_[a, b]))
