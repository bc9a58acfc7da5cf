"""Bootstrap intervals over images: replicate statistics against brute force, coverage on a known answer, and the
Evaluator's replicates against re-evaluating the resampled images (docs/method.md §3)."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from uqseg.errors import InputError
from uqseg.metrics import Evaluator
from uqseg.metrics.bootstrap import (
    ace_from_summed_bins,
    ace_replicates,
    auroc_replicates,
    mean_replicates,
    percentile_interval,
    resample_counts,
)
from uqseg.metrics.calibration import ace_bin_sums, ace_from_sums
from uqseg.uncertainty import decompose


def test_counts_are_seeded_by_key_and_sum_to_n():
    a, b = resample_counts(7, 50, "lidc/seed0|test"), resample_counts(7, 50, "lidc/seed0|test")
    assert np.array_equal(a, b) and a.shape == (50, 7)
    assert (a.sum(1) == 7).all()
    assert not np.array_equal(a, resample_counts(7, 50, "lidc/seed1|test"))
    with pytest.raises(InputError, match="n >= 1"):
        resample_counts(0, 5)


def test_mean_and_auroc_replicates_equal_the_resampled_statistic():
    rng = np.random.default_rng(0)
    ids, oods = np.round(rng.normal(0, 1, 9), 1), np.round(rng.normal(0.7, 1, 6), 1)  # rounding makes ties
    ci, co = resample_counts(9, 20, "a"), resample_counts(6, 20, "b")
    got = auroc_replicates(ids, oods, ci, co)
    means = mean_replicates(ci, ids)
    for r in range(20):
        a, b = np.repeat(ids, ci[r].astype(int)), np.repeat(oods, co[r].astype(int))
        assert got[r] == pytest.approx(roc_auc_score(np.r_[np.zeros(a.size), np.ones(b.size)], np.r_[a, b]))
        assert means[r] == pytest.approx(a.mean())
    ones = np.ones((1, 9)), np.ones((1, 6))
    y = np.r_[np.zeros(9), np.ones(6)]
    assert auroc_replicates(ids, oods, *ones)[0] == pytest.approx(roc_auc_score(y, np.r_[ids, oods]))


def test_ace_replicates_pool_the_resampled_images_bins():
    rng = np.random.default_rng(1)
    conf, corr = rng.random((5, 40)), (rng.random((5, 40)) < 0.7).astype(float)
    sums = np.stack([ace_bin_sums(conf[i], corr[i], 20) for i in range(5)])
    counts = resample_counts(5, 10, "c")
    got = ace_replicates(counts, sums)
    for r in range(10):
        idx = np.repeat(np.arange(5), counts[r].astype(int))
        assert got[r] == pytest.approx(ace_from_sums(ace_bin_sums(conf[idx].ravel(), corr[idx].ravel(), 20)))
    # hand case: bins (count 2, 1 correct, conf 1.5) and (count 1, 1, 0.9) and an empty bin: (0.25 + 0.1) / 2
    hand = np.array([[2, 1, 1.5], [1, 1, 0.9], [0, 0, 0]])
    assert ace_from_summed_bins(hand) == pytest.approx(0.175)
    assert np.isnan(ace_from_summed_bins(np.zeros((3, 3))))


def test_percentile_interval_and_undefined_replicates():
    lo, hi = percentile_interval(np.arange(101.0)[None], 0.9)
    assert lo[0] == pytest.approx(5.0) and hi[0] == pytest.approx(95.0)
    lo, hi = percentile_interval(np.array([[1.0, np.nan, 2.0]]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    with pytest.raises(InputError, match="level"):
        percentile_interval(np.ones((1, 3)), 1.5)


def test_auroc_interval_covers_the_true_value_about_95_percent():
    """Scores N(0, 1) vs N(d, 1) have AUROC Φ(d/√2); 200 datasets of 32 + 32 images, B = 500 each."""
    d, n, trials = 0.8, 32, 200
    truth = norm.cdf(d / np.sqrt(2))
    rng = np.random.default_rng(2)
    ci, co = resample_counts(n, 500, "id"), resample_counts(n, 500, "ood")
    hits = 0
    for _ in range(trials):
        lo, hi = percentile_interval(auroc_replicates(rng.normal(0, 1, n), rng.normal(d, 1, n), ci, co))
        hits += bool(lo <= truth <= hi)
    assert 0.90 <= hits / trials <= 0.99


def _batch(rng, n, shift=0.0):
    x = rng.random((3, 2, n, 2, 10, 13)) + shift
    m = decompose(x / x.sum(-3, keepdims=True))
    ann = (rng.random((n, 3, 10, 13)) < 0.3 + 0.4 * m.mean[:, 1:2]).astype(np.int64)
    return {"tu": m.tu, "au": m.au, "eu": m.eu, "mean": m.mean, "annotations": ann}


def _take(batch, idx):
    return {k: v[idx] for k, v in batch.items()}


def test_evaluator_replicates_equal_reevaluating_the_resampled_images():
    rng = np.random.default_rng(3)
    val, test, ood = _batch(rng, 4), _batch(rng, 5), _batch(rng, 4, shift=0.4)
    ev = Evaluator(2, ood_splits=["ood"])
    ev.add_validation(val)
    ev.add("test", test)
    ev.add("ood", ood)
    reps = ev.bootstrap(replicates=6, key="d/seed0")
    keys = ["split", "task", "measure", "metric", "aggregation"]
    assert list(reps.columns[:5]) == keys and reps.shape[1] == 5 + 6
    assert reps.b0.dtype == np.float32
    point = ev.results().set_index(keys)
    assert set(reps.set_index(keys).index) == set(point.index)
    for r in (0, 5):
        again = Evaluator(2, ood_splits=["ood"])
        again.add_validation(val)
        for split, batch in (("test", test), ("ood", ood)):
            counts = resample_counts(5 if split == "test" else 4, 6, f"d/seed0|{split}")[r].astype(int)
            again.add(split, _take(batch, np.repeat(np.arange(counts.size), counts)))
        expect = again.results().set_index(keys).value
        got = reps.set_index(keys)[f"b{r}"].reindex(expect.index)
        np.testing.assert_allclose(got.to_numpy(float), expect.to_numpy(float), rtol=1e-5, atol=1e-6)
    assert ev.bootstrap(replicates=6, key="d/seed0").equals(reps)
