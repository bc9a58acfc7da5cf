"""Images annotated by fewer than all K annotators (docs/method.md §3, "A varying number of annotators").

A dataset prepared from a folder may lack some annotators' masks for some images. Annotations stay B×K×H×W, and an
absent annotator's whole map holds ``ABSENT`` (−1, the value ``uqseg.data.contract.ABSENT`` has; metrics import no
data code). Every annotator-based metric then uses only the present annotators of each image: Dice averages over
them, GED's expectations run over them, the annotator variance and the calibration pairs count only them.
"""

from __future__ import annotations

import numpy as np

from uqseg.errors import InputError

ABSENT = -1


def present_raters(annotations: np.ndarray) -> np.ndarray | None:
    """…×K bool: which annotators are present for each image of …×K×H×W ``annotations``; None when all are (the
    common case, which keeps every metric's all-present arithmetic unchanged). InputError when an image has no
    annotator or a map is only partly ``ABSENT``."""
    if annotations.size == 0 or annotations.min() != ABSENT:
        return None
    absent = annotations == ABSENT
    present = ~absent.any((-2, -1))
    if (absent.all((-2, -1)) != ~present).any():
        raise InputError("annotations: an annotator's map is partly ABSENT (-1); an absent annotator's whole map "
                         "is ABSENT")
    if not present.any(-1).all():
        raise InputError("annotations: an image has no annotator present (every map is ABSENT)")
    return present


def present_mean(values: np.ndarray, present: np.ndarray | None) -> np.ndarray:
    """Mean over the last (annotator) axis of ``values`` (…×K), over the present annotators only."""
    if present is None:
        return values.mean(-1)
    return (values * present).sum(-1) / present.sum(-1)
