"""Every metric takes the reference (annotations, correctness) first and the model's output second, like
scikit-learn's (y_true, y_pred); a swap that the shapes or values reveal raises an error saying so."""

from __future__ import annotations

import numpy as np
import pytest

from uqseg.errors import InputError
from uqseg.metrics import ace, dice, ged, instance_ged, pixel_correctness
from uqseg.metrics.frame import frame_ratio

# One 1×4×4 image: two annotators, a prediction covering annotator 0's object and one more pixel.
ANN = np.zeros((1, 2, 4, 4), np.int64)
ANN[0, 0, :2, :2] = 1
ANN[0, 1, 0, :3] = 1
PRED = np.zeros((1, 4, 4), np.int64)
PRED[0, :2, :2] = 1
PRED[0, 3, 3] = 1


def test_dice_takes_annotations_first() -> None:
    # annotator 0: 2·4/(5+4); annotator 1: 2·2/(5+3)
    assert dice(ANN, PRED)[0] == pytest.approx((8 / 9 + 4 / 8) / 2)
    with pytest.raises(InputError, match=r"swapped.*dice\(annotations, pred\)"):
        dice(PRED, ANN)
    with pytest.raises(InputError, match="pred must hold integer class indices"):
        dice(ANN, PRED.astype(np.float64) * 0.7)  # probabilities where labels belong


def test_pixel_correctness_takes_annotations_first() -> None:
    assert pixel_correctness(ANN, PRED)[0].sum() == 16 + 16 - 1 - 4
    with pytest.raises(InputError, match=r"swapped.*pixel_correctness\(annotations, pred\)"):
        pixel_correctness(PRED, ANN)


def test_ged_takes_annotations_first() -> None:
    samples = np.stack([PRED, np.zeros_like(PRED), PRED])  # 3×1×4×4, three samples
    value = ged(ANN, samples, distance="dice")[0]
    assert value == pytest.approx(instance_ged(ANN, samples[None])["dice"][0, 0])
    assert value != pytest.approx(ged(ANN, samples[::-1, :, ::-1], distance="dice")[0])
    with pytest.raises(InputError, match=r"swapped.*ged\(annotations, samples\)"):
        ged(samples, ANN)
    with pytest.raises(InputError, match=r"swapped.*instance_ged\(annotations, labels\)"):
        instance_ged(samples[None], ANN)


def test_ace_takes_correctness_first() -> None:
    correct = np.array([1.0, 0.5, 0.0, 1.0])
    confidence = np.array([0.9, 0.6, 0.2, 0.7])
    # 20 bins: each value alone in its bin, ACE = mean |correct − confidence|
    assert ace(correct, confidence) == pytest.approx(np.mean([0.1, 0.1, 0.2, 0.3]))
    with pytest.raises(InputError, match=r"swapped.*ace\(correct, confidence\)"):
        ace(confidence, np.array([1.0, 1.0, 0.0, 1.0]))  # confidence where the 0/1 correctness belongs


def test_frame_ratio_takes_annotations_first() -> None:
    maps = np.ones((1, 8, 8))
    ann = np.zeros((1, 1, 8, 8), np.int64)
    assert frame_ratio(ann, maps) == pytest.approx(1.0)
    with pytest.raises(InputError, match=r"swapped.*frame_ratio\(annotations, maps\)"):
        frame_ratio(maps, ann)
