"""The one table of Δ task rules (docs/method.md §2) and Δ's checks on a library user's inputs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from uqseg.errors import InputError
from uqseg.metrics import entanglement
from uqseg.metrics.delta_rules import CORRECT_MEASURE, DELTA_RULES, higher_is_better
from uqseg.metrics.entanglement import OutOfRangeWarning


def test_the_paper_task_table() -> None:
    assert CORRECT_MEASURE == {"OODD": "EU", "AMB": "AU", "CAL": "TU"}
    assert {t: r.wrong for t, r in DELTA_RULES.items()} == {"OODD": ("AU",), "AMB": ("EU",), "CAL": ("AU", "EU")}
    assert [higher_is_better(t) for t in ("OODD", "AMB", "CAL")] == [True, True, False]
    assert DELTA_RULES["OODD"].groups == ("OOD",) and DELTA_RULES["OODD"].per_aggregation
    assert DELTA_RULES["CAL"].metrics == ("ace_global", "ace_image") and DELTA_RULES["AMB"].metrics == ("ncc",)


def test_wrong_measure_is_the_better_of_two_for_calibration() -> None:
    au, eu = np.array([0.2, 0.1, 0.3, np.nan]), np.array([0.1, 0.1, np.nan, 0.2])
    value, is_eu = DELTA_RULES["CAL"].wrong_value({"AU": au, "EU": eu})
    np.testing.assert_array_equal(value, [0.1, 0.1, np.nan, np.nan])
    assert is_eu.tolist() == [True, False, False, False]  # a tie keeps AU
    value, is_eu = DELTA_RULES["AMB"].wrong_value({"AU": au, "EU": eu})
    np.testing.assert_array_equal(value, eu) and is_eu.all()


def test_entanglement_broadcasts_and_keeps_the_scalar_form() -> None:
    correct = np.array([[0.9], [0.5], [0.0]])
    d = entanglement(correct, np.array([0.5, 0.9]), lower_is_better=np.array([False, True]))
    assert d.shape == (3, 2)
    by_hand = (math.atan2(0.9, 0.5) - math.pi / 4) / (math.pi / 4)
    assert d[0, 0] == pytest.approx(by_hand) and d[0, 1] == pytest.approx(0.0)
    assert d[1, 1] == pytest.approx(by_hand)  # lower is better flips the sign: (0.5, 0.9) with s = −1
    assert entanglement(0.0, 0.0) == 0.0 and isinstance(entanglement(0.9, 0.5), float)


def test_values_outside_the_unit_range_are_flagged() -> None:
    with pytest.warns(OutOfRangeWarning, match="1 of 2"):
        d = entanglement(np.array([-0.2, 0.4]), 0.5)
    assert abs(d[0]) > 1 >= abs(d[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        entanglement(np.array([0.0, 0.4, 1.0]), np.array([0.3, 0.0, 1.0]))


@pytest.mark.parametrize(("correct", "wrong"), [(np.ones(3), np.ones(2)), ("high", 0.2), (np.inf, 0.1)])
def test_bad_inputs_are_input_errors(correct: object, wrong: object) -> None:
    with pytest.raises(InputError, match="entanglement needs"):
        entanglement(correct, wrong)
