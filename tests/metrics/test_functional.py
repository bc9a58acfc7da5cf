"""Hand-computed and reference tests of the functional metrics (docs/method.md §2–§3)."""

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from uqseg.errors import InputError
from uqseg.metrics import (
    ace,
    aggregate,
    annotator_variance,
    auroc,
    dice,
    entanglement,
    fit_platt,
    ged,
    mean_rank_with_ci,
    ncc,
    pixel_correctness,
    rank_with_ties,
)


def test_ncc_matches_corrcoef_and_constant_is_zero():
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 4, 5)), rng.random((3, 4, 5))
    ref = [np.corrcoef(a[i].ravel(), b[i].ravel())[0, 1] for i in range(3)]
    np.testing.assert_allclose(ncc(a, b), ref, atol=1e-12)
    assert ncc(np.ones((4, 5)), b[0]) == 0.0
    with pytest.raises(InputError, match="a"):
        ncc(np.full((4, 5), np.nan), b[0])
    with pytest.raises(InputError, match="b must be real-valued, got complex128"):
        ncc(a[0], b[0] + 1j)


def test_annotator_variance_and_correctness():
    ann = np.array([[[[0, 1]], [[1, 1]]]])
    np.testing.assert_allclose(annotator_variance(ann), [[[0.25, 0.0]]])
    np.testing.assert_array_equal(pixel_correctness(ann, np.array([[[1, 1]]])), [[[[0, 1]], [[1, 1]]]])


def test_ace_hand_and_bruteforce_and_all_correct():
    conf = np.array([0.1, 0.12, 0.9, 1.0])
    corr = np.array([0, 1, 1, 1])
    assert ace(corr, conf, bins=2) == pytest.approx((abs(0.5 - 0.11) + abs(1 - 0.95)) / 2)
    rng = np.random.default_rng(1)
    c, y = rng.random(500), (rng.random(500) < 0.7).astype(float)
    errs = []
    for k in range(20):
        m = (c >= k / 20) & ((c < (k + 1) / 20) if k < 19 else (c <= 1))
        if m.any():
            errs.append(abs(y[m].mean() - c[m].mean()))
    assert ace(y, c) == pytest.approx(np.mean(errs))
    assert ace(np.ones(5), np.full(5, 0.95)) == pytest.approx(0.05)


def test_platt_matches_sklearn_weighted():
    rng = np.random.default_rng(2)
    u = rng.random(300)
    y = (rng.random(300) < 1 / (1 + np.exp(-(2 - 3 * u)))).astype(float)
    w = rng.integers(1, 4, 300).astype(float)
    a, b = fit_platt(u, y, w)
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10000).fit(-u[:, None], y, sample_weight=w)
    assert a == pytest.approx(lr.coef_[0, 0], abs=1e-3)
    assert b == pytest.approx(lr.intercept_[0], abs=1e-3)


def test_aggregations_hand():
    u = np.zeros((1, 3, 4))
    u[0, 0, 0] = 1.0
    u[0, 2, 3] = 3.0
    pred = np.zeros((1, 3, 4), dtype=int)
    pred[0, 0, :2] = 1
    assert aggregate(u, pred, "image")[0] == pytest.approx(4 / 12)
    assert aggregate(u, pred, "area")[0] == pytest.approx(2.0)
    assert aggregate(u, pred, "border")[0] == pytest.approx(4 / 3)
    assert aggregate(u, pred, "patch", patch_size=2)[0] == pytest.approx(3.0)
    assert aggregate(u, pred, "threshold", tau=0.5)[0] == pytest.approx(2.0)
    assert aggregate(u, pred, "threshold", tau=5)[0] == 0.0
    assert aggregate(u, np.zeros_like(pred), "border")[0] == pytest.approx(4.0)


def test_orientation_matters():
    rng = np.random.default_rng(3)
    ann = (rng.random((1, 3, 5, 7)) < 0.4).astype(int)
    ann[:, :, :2, :3] = 1
    u = annotator_variance(ann) + 0.01 * rng.random((1, 5, 7))
    pred = ann[:, 0]
    assert ncc(u, annotator_variance(ann))[0] > 0.9
    assert ncc(u[:, ::-1], annotator_variance(ann))[0] < 0.9
    assert dice(ann, pred)[0] != pytest.approx(dice(ann, pred[:, ::-1, ::-1])[0])
    c = pixel_correctness(ann, pred)
    assert c.mean() != pytest.approx(pixel_correctness(ann, pred[:, :, ::-1]).mean())
    conf = np.broadcast_to((1 - u)[:, None], c.shape)
    assert ace(c, conf) != pytest.approx(ace(c, np.broadcast_to((1 - u[:, ::-1])[:, None], c.shape)))


def test_auroc_matches_sklearn_and_single_class():
    a, b = np.array([0.1, 0.4, 0.35]), np.array([0.8, 0.3])
    assert auroc(a, b) == pytest.approx(roc_auc_score([0, 0, 0, 1, 1], np.r_[a, b]))
    with pytest.raises(InputError):
        auroc([], b)


def test_dice_and_ged_hand():
    pred = np.array([[[1, 1, 0, 0]]])
    ann = np.array([[[[1, 0, 0, 0]], [[0, 0, 0, 0]]]])
    assert dice(ann, pred)[0] == pytest.approx((2 / 3 + 0) / 2)
    assert dice(np.zeros_like(ann), np.zeros_like(pred))[0] == 1.0
    s = np.array([[[[1, 1, 0, 0]]], [[[0, 0, 0, 0]]]])
    # d(s0,y0)=1-1/2, d(s0,y1)=1, d(s1,y0)=1, d(s1,y1)=0; d(s0,s1)=1; d(y0,y1)=1
    expect = 2 * (0.5 + 1 + 1 + 0) / 4 - 2 / 4 - 2 / 4
    assert ged(ann, s)[0] == pytest.approx(expect)


def test_entanglement_values():
    assert entanglement(5, 2) == pytest.approx(0.516, abs=1e-3)
    assert entanglement(4, 6) == pytest.approx(-0.251, abs=1e-3)
    assert entanglement(1, 1) == 0.0
    assert entanglement(0.1, 0.2, lower_is_better=True) > 0


def test_ranking():
    np.testing.assert_allclose(rank_with_ties([3, 1, 3], higher_is_better=True), [1.5, 3, 1.5])
    mean, ci = mean_rank_with_ci([[1, 2], [3, 2]])
    np.testing.assert_allclose(mean, [2, 2])
    assert ci[0] == pytest.approx(12.706 * math.sqrt(2) / math.sqrt(2), rel=1e-3)
    assert ci[1] == 0.0


def test_ace_matches_netcal_detection_mode():
    from netcal.metrics import ACE

    rng = np.random.default_rng(4)
    c = rng.random(2000) * 0.6 + 0.3
    y = (rng.random(2000) < c).astype(int)
    assert ace(y, c) == pytest.approx(ACE(bins=20, detection=True).measure(c, y), abs=1e-12)
