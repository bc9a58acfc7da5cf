"""The Evaluator's vectorised paths equal the per-image reference (evaluation throughput)."""

import numpy as np

from uqseg.metrics import Evaluator, instance_ged
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
    return {"tu": m.tu, "au": m.au, "eu": m.eu, "mean": m.mean, "annotations": ann,
            "sample_labels": x.argmax(3).astype(np.uint8)}  # M×S×B×H×W


def test_stored_ged_gives_the_same_table_as_sample_labels():
    rng = np.random.default_rng(1)
    val, test, ood = _batch(rng, 4), _batch(rng, 3), _batch(rng, 3, shift=0.4)
    tables = []
    for stored in (False, True):
        ev = Evaluator(2, ood_splits=["ood"])
        ev.add_validation(val)
        for split, batch in (("test", test), ("ood", ood)):
            if stored:
                geds = instance_ged(batch["annotations"], batch["sample_labels"])
                batch = {**{k: v for k, v in batch.items() if k != "sample_labels"},
                         "ged_dice": geds["dice"].mean(0), "ged_iou": geds["iou"].mean(0)}
            ev.add(split, batch)
        tables.append(ev.results())
    assert (tables[0].metric == "ged_dice").sum() == 2 and (tables[0].metric == "ged_iou").sum() == 2
    assert tables[0].equals(tables[1])
