"""The Evaluator reads the stored argmax and the authors' background fraction (docs/method.md §3)."""

import numpy as np
import pytest

from uqseg.errors import InputError
from uqseg.metrics import Evaluator, dice


def _batch(mean: np.ndarray, ann: np.ndarray) -> dict[str, np.ndarray]:
    u = np.linspace(0.01, 0.5, mean[:, 0].size).reshape(mean[:, 0].shape)
    return {"tu": u, "au": u, "eu": u, "mean": mean, "annotations": ann}


def test_stored_pred_wins_over_the_float16_mean() -> None:
    mean32 = np.zeros((1, 2, 4, 4), np.float32)
    mean32[:, 1] = 0.5001  # class 1 wins in float32 ...
    mean32[:, 0] = 0.4999
    mean16 = mean32.astype(np.float16)
    assert (mean16[:, 0] == mean16[:, 1]).all()  # ... but float16 rounds both to 0.5 and argmax picks class 0
    pred = mean32.argmax(1).astype(np.uint8)
    ann = np.ones((1, 2, 4, 4), np.int64)
    results = []
    for extra in ({}, {"pred": pred}):
        ev = Evaluator(2, ood_splits=["ood"])
        ev.add_validation({**_batch(mean16, ann), **extra})
        ev.add("test", {**_batch(mean16, ann), **extra})
        results.append(ev.results().query("metric == 'dice'").value.item())
    assert results[0] == pytest.approx(dice(ann, mean16.argmax(1))[0]) == 0.0
    assert results[1] == pytest.approx(1.0)


def test_bg_fraction_sets_the_threshold_quantile() -> None:
    mean = np.zeros((2, 2, 5, 5))
    mean[:, 0] = 1.0  # pred is all background: its own fraction would give q = 1
    batch = _batch(mean, np.zeros((2, 1, 5, 5), np.int64))
    ev = Evaluator(2, ood_splits=["ood"])
    ev.add_validation({**batch, "bg_fraction": np.array([0.2, 0.6])})
    ev.add("test", batch)
    assert ev.tau["AU"] == pytest.approx(np.quantile(batch["au"], 0.4, method="inverted_cdf"), rel=1e-3)
    with pytest.raises(InputError, match="bg_fraction"):
        Evaluator(2, ood_splits=["ood"]).add_validation({**batch, "bg_fraction": np.array([0.2, 1.5])})


def test_bad_pred_is_refused() -> None:
    batch = _batch(np.full((1, 2, 3, 3), 0.5), np.zeros((1, 1, 3, 3), np.int64))
    with pytest.raises(InputError, match=r"pred has shape"):
        Evaluator(2, ood_splits=["ood"]).add_validation({**batch, "pred": np.zeros((1, 3, 4), np.uint8)})
    with pytest.raises(InputError, match=r"pred holds labels"):
        Evaluator(2, ood_splits=["ood"]).add_validation({**batch, "pred": np.full((1, 3, 3), 2, np.uint8)})
