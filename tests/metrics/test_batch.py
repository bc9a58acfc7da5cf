"""EvalBatch: the typed evaluator batch checks every field and names it in errors."""

from __future__ import annotations

import numpy as np
import pytest

from uqseg.errors import InputError
from uqseg.metrics import EvalBatch, Evaluator
from uqseg.uncertainty import decompose


def _fields(rng: np.random.Generator, n: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    x = rng.random((3, 2, n, 2, 6, 7)) + shift
    m = decompose(x / x.sum(-3, keepdims=True))
    ann = (rng.random((n, 2, 6, 7)) < 0.2 + 0.6 * m.mean[:, 1:2]).astype(np.int64)
    return {"tu": m.tu, "au": m.au, "eu": m.eu, "mean": m.mean, "annotations": ann}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("tu", np.zeros((2, 6, 6)), r"^tu has shape \(2, 6, 6\)"),
    ("eu", np.zeros((2, 6, 7, 1)), "^eu must have 3 axes"),
    ("annotations", np.zeros((2, 2, 7, 6), np.int64), "^annotations has shape"),
    ("annotations", np.zeros((2, 2, 6, 7)), "^annotations must hold integer"),
    ("annotations", np.full((2, 2, 6, 7), 2), "^annotations holds labels outside"),
    ("pred", np.zeros((2, 7, 6), np.int64), "^pred has shape"),
    ("oracle", np.zeros((2, 3, 6, 7)), "^oracle has shape"),
    ("bg_fraction", np.array([0.1, 1.2]), "^bg_fraction must be 2 values"),
    ("sample_labels", np.zeros((3, 2, 2, 6, 6), np.int64), "^sample_labels must be"),
    ("ged_dice", np.zeros(2), "both ged_dice and ged_iou"),
])
def test_a_bad_field_is_named(field: str, value: np.ndarray, message: str) -> None:
    good = _fields(np.random.default_rng(0), 2)
    EvalBatch(**good)
    with pytest.raises(InputError, match=message):
        EvalBatch(**{**good, field: value})


def test_an_unknown_or_missing_key_of_a_mapping_is_refused() -> None:
    good = _fields(np.random.default_rng(0), 2)
    ev = Evaluator(2, ood_splits=["ood"])
    with pytest.raises(InputError, match=r"unknown fields \['orcale'\]"):
        ev.add_validation({**good, "orcale": good["mean"]})
    with pytest.raises(InputError, match="lacks 'annotations'"):
        ev.add_validation({k: v for k, v in good.items() if k != "annotations"})
    with pytest.raises(InputError, match="mean has 2 classes, expected 3"):
        Evaluator(3, ood_splits=["ood"]).add_validation(EvalBatch(**good))


def test_the_batch_is_frozen_and_holds_checked_arrays() -> None:
    good = _fields(np.random.default_rng(0), 2)
    b = EvalBatch(**{**good, "annotations": good["annotations"].astype(np.int32)})
    assert b.annotations.dtype == np.int64 and b.num_classes == 2
    np.testing.assert_array_equal(b.prediction, good["mean"].argmax(1))
    with pytest.raises(AttributeError):
        b.tu = good["au"]  # type: ignore[misc]


def test_typed_and_mapping_batches_give_the_same_table() -> None:
    rng = np.random.default_rng(4)
    data = {"val": _fields(rng, 4), "test": _fields(rng, 5), "ood": _fields(rng, 4, shift=0.5)}
    tables = []
    for typed in (True, False):
        ev = Evaluator(2, ood_splits=["ood"])
        wrap = EvalBatch if typed else dict
        ev.add_validation(wrap(**data["val"]))
        ev.add("test", wrap(**data["test"]))
        ev.add("ood", wrap(**data["ood"]))
        tables.append(ev.results())
    assert len(tables[0]) > 40
    assert tables[0].equals(tables[1])
