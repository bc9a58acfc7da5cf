"""Dice and GED check labels against the class count, or derive it from the labels (docs/method.md §3)."""

from __future__ import annotations

import numpy as np
import pytest

from uqseg.errors import InputError
from uqseg.metrics import dice, ged, instance_ged

EMPTY = np.zeros((1, 2, 4, 4), np.int64)  # B×K×H×W annotations with no foreground


def test_labels_outside_the_given_class_count_are_refused() -> None:
    fives = np.full((1, 4, 4), 5)
    with pytest.raises(InputError, match=r"pred.*label 5.*2 classes"):
        dice(EMPTY, fives, 2)
    with pytest.raises(InputError, match=r"annotations.*label 3"):
        dice(EMPTY + 3, np.zeros((1, 4, 4), np.int64), 3)
    with pytest.raises(InputError, match=r"samples.*label 5"):
        ged(EMPTY, fives[None], 2)
    with pytest.raises(InputError, match=r"labels.*label 5"):
        instance_ged(EMPTY, fives[None, None], 2)
    with pytest.raises(InputError, match=r"pred.*label -1"):
        dice(EMPTY, -np.ones((1, 4, 4), np.int64))


def test_class_count_derived_from_the_labels() -> None:
    fives = np.full((1, 4, 4), 5)
    # classes 1…5: class 5 misses (0), classes 1…4 are empty in both (1 each)
    assert dice(EMPTY, fives)[0] == pytest.approx(4 / 5) == dice(EMPTY, fives, 6)[0]
    assert dice(EMPTY, fives)[0] < 1.0
    assert ged(EMPTY, fives[None])[0] == pytest.approx(ged(EMPTY, fives[None], 6)[0]) == pytest.approx(0.4)
    assert dice(EMPTY, np.zeros((1, 4, 4), np.int64))[0] == 1.0  # all background: two classes
