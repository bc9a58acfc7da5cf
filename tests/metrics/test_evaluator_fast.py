"""The Evaluator's vectorised paths equal the per-image reference (issue 9 "Evaluation throughput")."""

import numpy as np

from uqseg.metrics import Evaluator
from uqseg.metrics.calibration import ace_bin_sums
from uqseg.metrics.evaluator import image_bin_sums
from uqseg.uncertainty import decompose


def test_image_bin_sums_equal_per_image_bincount_bit_for_bit():
    rng = np.random.default_rng(0)
    conf = np.broadcast_to(rng.random((5, 1, 7, 9)), (5, 3, 7, 9))
    corr = (rng.random((5, 3, 7, 9)) < 0.6).astype(np.float64)
    conf = np.where(rng.random(conf.shape) < 0.05, 1.0, conf)  # the closed last bin
    sums = image_bin_sums(conf, corr, 20)
    assert sums.shape == (5, 20, 3)
    for i in range(5):
        assert np.array_equal(sums[i], ace_bin_sums(conf[i].ravel(), corr[i].ravel(), 20))


def _batch(rng, n, shift=0.0):
    x = rng.random((3, 2, n, 2, 10, 13)) + shift
    m = decompose(x / x.sum(-3, keepdims=True))
    ann = (rng.random((n, 3, 10, 13)) < 0.3 + 0.4 * m.mean[:, 1:2]).astype(np.int64)
    return {"tu": m.tu, "au": m.au, "eu": m.eu, "mean": m.mean, "annotations": ann, "samples": x[0] / x[0].sum(2,
            keepdims=True)}


def test_sample_labels_give_the_same_table_as_samples():
    rng = np.random.default_rng(1)
    val, test, ood = _batch(rng, 4), _batch(rng, 3), _batch(rng, 3, shift=0.4)
    tables = []
    for key in ("samples", "sample_labels"):
        ev = Evaluator(2, ood_splits=["ood"])
        ev.add_validation(val)
        for split, batch in (("test", test), ("ood", ood)):
            if key == "sample_labels":
                batch = {**{k: v for k, v in batch.items() if k != "samples"},
                         "sample_labels": batch["samples"].argmax(2).astype(np.uint8)}
            ev.add(split, batch)
        tables.append(ev.results())
    assert (tables[0].metric == "ged").sum() == 2
    assert tables[0].equals(tables[1])
