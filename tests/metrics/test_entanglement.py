"""Entanglement Δ at its edge cases (docs/method.md §2): the tie at the origin, arrays, values outside [−1, 1]."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uqseg.errors import InputError
from uqseg.metrics import entanglement, task_entanglement
from uqseg.metrics.entanglement import ORIGIN_TIE, entanglement_status, entanglement_values
from uqseg.report.tables import delta_table


@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("zero", [0.0, -0.0, 0])
def test_origin_is_a_tie(lower: bool, zero: float) -> None:
    assert entanglement(zero, zero, lower) == 0.0 == entanglement(0.7, 0.7, lower)
    assert entanglement_values(np.array([0.0, -0.0]), np.array([-0.0, 0.0]), lower).tolist() == [0.0, 0.0]


def test_entanglement_on_arrays() -> None:
    c, w = np.array([[5.0, 4.0], [0.0, -0.2]]), np.array([[2.0, 6.0], [0.0, 0.5]])
    d = entanglement(c, w)
    assert isinstance(d, np.ndarray) and d.shape == (2, 2)
    np.testing.assert_allclose(d, [[entanglement(5, 2), entanglement(4, 6)], [0.0, entanglement(-0.2, 0.5)]])
    np.testing.assert_allclose(entanglement(c, w, lower_is_better=True), -d)
    assert isinstance(entanglement(0.5, 0.2), float)
    with pytest.raises(InputError, match="finite"):
        entanglement(np.array([0.5, np.nan]), 0.2)


def test_status_flags_ties() -> None:
    c, w = np.array([0.0, 0.7, -0.2, 0.0, np.nan]), np.array([0.0, 0.7, 0.5, 0.4, 0.1])
    assert entanglement_status(c, w).tolist() == [ORIGIN_TIE, "ok", "ok", "ok", "undefined: missing or NaN input"]
    assert entanglement_status(0.0, -0.0) == ORIGIN_TIE


def test_outside_the_unit_range_exactly_when_an_input_is_negative() -> None:
    grid = np.array([-1.0, -0.3, -0.0, 0.0, 0.2, 1.0])
    c, w = np.meshgrid(grid, grid)
    for lower in (False, True):
        d = entanglement(c, w, lower)
        np.testing.assert_array_equal(np.abs(d) > 1, (c < 0) | (w < 0))


def test_task_table_and_report_say_tie_at_the_origin() -> None:
    rows = [("ood-a", "OODD", "EU", "auroc", "border", 0.8), ("ood-a", "OODD", "AU", "auroc", "border", 0.6),
            ("test", "AMB", "AU", "ncc", "none", 0.0), ("test", "AMB", "EU", "ncc", "none", 0.0)]
    t = pd.DataFrame(rows, columns=["split", "task", "measure", "metric", "aggregation", "value"])
    d = task_entanglement(t).set_index("task")
    assert d.loc["AMB", "delta"] == 0.0 and d.loc["AMB", "status"] == ORIGIN_TIE
    assert d.loc["OODD", "status"] == "ok"

    results = t.assign(dataset="toy", seed=0, au="ssn", eu="swag", status="ok")
    table = delta_table(results).set_index("task")
    assert table.loc["AMB", "delta"] == 0.0 and table.loc["AMB", "status"] == ORIGIN_TIE
    assert table.loc["OODD", "status"] == "ok"
    assert "tie at the origin" in ORIGIN_TIE
