"""Post-hoc EU rescaling (docs/method.md "Open questions"): the maps, the mean-ratio factor, the validation search."""

from __future__ import annotations

import numpy as np
import pytest

from uqseg.errors import InputError
from uqseg.metrics import ace, annotator_variance, fit_platt, ncc, platt_confidence
from uqseg.metrics.batch import EvalBatch
from uqseg.metrics.rescaling import DEFAULT_FACTORS, FactorSearch, MeanRatio, rescale, rescaled_batch

K = 3


def _validation(f0: float = 100.0, n: int = 24, h: int = 12, w: int = 10, seed: int = 0) -> tuple[np.ndarray, ...]:
    """AU, EU (about 100× smaller), annotations whose error rate grows with AU + f0·EU, and an all-background pred."""
    rng = np.random.default_rng(seed)
    au = rng.gamma(2.0, 0.1, (n, h, w))
    eu = rng.gamma(2.0, 0.001, (n, h, w))
    wrong = 1 / (1 + np.exp(-(6 * (au + f0 * eu) - 3)))
    ann = (rng.random((n, K, h, w)) < wrong[:, None]).astype(np.int64)
    return au, eu, ann, np.zeros((n, h, w), dtype=np.int64)


def test_rescale_forms_the_additive_maps() -> None:
    au = np.array([[[0.5, 0.2], [0.1, 0.0]]])
    eu = np.array([[[0.01, 0.0], [0.002, 0.003]]])
    tu, a, e = rescale(au, eu, 10.0)
    np.testing.assert_allclose(e, [[[0.1, 0.0], [0.02, 0.03]]])
    np.testing.assert_allclose(tu, [[[0.6, 0.2], [0.12, 0.03]]])
    np.testing.assert_array_equal(a, au)
    batch = EvalBatch(tu=au + eu, au=au, eu=eu, mean=np.full((1, 2, 2, 2), 0.5),
                      annotations=np.zeros((1, 1, 2, 2), dtype=np.int64), pred=np.zeros((1, 2, 2), dtype=np.int64))
    out = rescaled_batch(batch, 10.0)
    np.testing.assert_allclose(out.tu, tu)
    np.testing.assert_allclose(out.eu, e)
    np.testing.assert_array_equal(out.au, au)
    assert out.pred is batch.pred and out.mean is batch.mean
    np.testing.assert_array_equal(batch.eu, eu)  # the input batch is unchanged
    norm = rescaled_batch(batch, 4.0, normalise=True)
    np.testing.assert_allclose(norm.tu, (au + 4 * eu) / 5)  # the convex combination, ≤ max(AU, EU)
    np.testing.assert_allclose(norm.au, au / 5)
    np.testing.assert_allclose(norm.eu, 4 * eu / 5)
    for bad in (0.0, -1.0, np.inf):
        with pytest.raises(InputError, match="factor"):
            rescale(au, eu, bad)


def test_mean_ratio_is_streamed() -> None:
    au, eu, _, _ = _validation()
    ratio = MeanRatio()
    for i in range(0, len(au), 5):
        ratio.add(au[i:i + 5], eu[i:i + 5])
    assert ratio.factor() == pytest.approx(au.mean() / eu.mean(), rel=1e-12)
    assert 50 < ratio.factor() < 200  # EU was drawn about 100× smaller
    empty = MeanRatio()
    with pytest.raises(InputError, match="no validation"):
        empty.factor()
    empty.add(au, np.zeros_like(eu))
    with pytest.raises(InputError, match="mean EU"):
        empty.factor()


def _search(factors: tuple[float, ...], *data: np.ndarray, batch: int = 7) -> FactorSearch:
    au, eu, ann, pred = data
    s = FactorSearch(factors)
    for i in range(0, len(au), batch):
        s.add(au[i:i + batch], eu[i:i + batch], ann[i:i + batch], pred[i:i + batch])
    return s


def test_ncc_is_exact_for_every_factor() -> None:
    au, eu, ann, pred = _validation()
    ann[3] = 0  # annotators agree everywhere: a constant variance map, NCC 0
    factors = (0.1, 1.0, 31.6, 1000.0)
    s = _search(factors, au, eu, ann, pred)
    var = annotator_variance(ann)
    expected = [np.mean(ncc(au + f * eu, var)) for f in factors]
    np.testing.assert_allclose(s.ncc(), expected, atol=1e-12)
    assert s.performance("AMB").tolist() == s.ncc().tolist()


def test_amb_picks_the_factor_the_ambiguity_follows() -> None:
    au, eu, _, pred = _validation()
    f0, k = DEFAULT_FACTORS[16], 64  # f0 = 10²; 64 annotators make the variance nearly continuous
    profile = au + f0 * eu
    target = 0.24 * profile / profile.max(axis=(1, 2), keepdims=True)  # variance k(K−k)/K² ≈ target ∈ [0, 0.24]
    ones = np.rint(k * (1 - np.sqrt(1 - 4 * target)) / 2).astype(np.int64)
    ann = (np.arange(k)[None, :, None, None] < ones[:, None]).astype(np.int64)
    s = _search(DEFAULT_FACTORS, au, eu, ann, pred)
    assert s.best("AMB") == pytest.approx(f0)
    assert s.ncc()[16] > 0.99 and s.ncc()[16] > s.ncc()[8] + 0.1  # clearly better than no rescaling (f = 1)


def test_ace_matches_the_exact_fit_on_every_pair() -> None:
    au, eu, ann, pred = _validation()
    factors = (0.01, 1.0, 100.0, 10000.0)
    s = _search(factors, au, eu, ann, pred)
    correct = (ann == pred[:, None]).astype(np.float64).ravel()
    for f, got in zip(factors, s.ace(), strict=True):
        u = np.repeat((au + f * eu)[:, None], K, axis=1).ravel()
        assert got == pytest.approx(ace(correct, platt_confidence(u, *fit_platt(u, correct))), abs=2e-3)
    assert s.best("CAL") == factors[int(np.argmin(s.ace()))]


def test_log_loss_is_exact_and_finds_the_factor_errors_follow() -> None:
    au, eu, ann, pred = _validation(n=60)  # errors follow AU + 100·EU through a logistic link
    s = _search(DEFAULT_FACTORS, au, eu, ann, pred)
    correct = (ann == pred[:, None]).astype(np.float64).ravel()
    for i in (0, 8, 16, 24):
        u = np.repeat((au + s.factors[i] * eu)[:, None], K, axis=1).ravel()
        a, b = fit_platt(u, correct)
        z = -a * u + b
        assert s.nll()[i] == pytest.approx(np.mean(np.logaddexp(0, z) - correct * z), rel=1e-4)
    assert 100 / 10**0.5 <= s.best("CAL_NLL") <= 100 * 10**0.5
    assert s.performance("CAL_NLL").tolist() == s.nll().tolist()


def test_ace_rewards_an_uninformative_map_and_the_log_loss_does_not() -> None:
    rng = np.random.default_rng(4)
    au, eu = rng.gamma(2.0, 0.1, (100, 12, 10)), rng.gamma(2.0, 0.001, (100, 12, 10))
    wrong = 1 / (1 + np.exp(-(6 * au - 3)))  # errors follow AU alone; EU is noise
    ann = (rng.random((100, K, 12, 10)) < wrong[:, None]).astype(np.int64)
    s = _search((1.0, 1e4), au, eu, ann, np.zeros((100, 12, 10), dtype=np.int64), batch=25)
    assert s.ace()[1] < 1e-9 < 0.01 < s.ace()[0]  # f = 10⁴: TU' ≈ the noise, one confidence bin, ACE 0
    assert s.best("CAL") == 1e4 and s.best("CAL_NLL") == 1.0


def test_ace_for_factors_that_push_tu_beyond_the_histogram_range() -> None:
    rng = np.random.default_rng(2)
    au, eu = rng.gamma(2.0, 0.1, (24, 12, 10)), rng.gamma(2.0, 0.05, (24, 12, 10))
    wrong = 1 / (1 + np.exp(-(60 * eu - 3)))  # errors follow EU, whose TU' = AU + 10⁴·EU reaches 10²–10⁴
    ann = (rng.random((24, K, 12, 10)) < wrong[:, None]).astype(np.int64)
    pred = np.zeros((24, 12, 10), dtype=np.int64)
    s = _search((1e4,), au, eu, ann, pred)
    u = np.repeat((au + 1e4 * eu)[:, None], K, axis=1).ravel()
    correct = (ann == pred[:, None]).astype(np.float64).ravel()
    exact = ace(correct, platt_confidence(u, *fit_platt(u, correct)))
    assert exact > 0.005  # not the trivial ACE of one constant confidence
    assert s.ace()[0] == pytest.approx(exact, abs=2e-3)


def test_ties_take_the_smallest_factor_and_errors() -> None:
    au, eu, ann, pred = _validation(n=6)
    s = _search((10.0, 1.0, 5.0), au, np.zeros_like(eu), ann, pred)  # EU ≡ 0: every factor is the same TU'
    assert s.factors.tolist() == [1.0, 5.0, 10.0]
    assert s.best("AMB") == 1.0 and s.best("CAL") == 1.0
    with pytest.raises(InputError, match="OOD"):
        s.best("OODD")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="no validation"):
        FactorSearch().ncc()
    with pytest.raises(InputError, match="factors"):
        FactorSearch([1.0, 0.0])
    with pytest.raises(InputError, match="do not match"):
        FactorSearch().add(au, eu, ann[:, :, :5], pred[:, :5])
    ann[0, 1] = -1  # an absent annotator would count as a class in the variance and the correctness
    with pytest.raises(InputError, match="present"):
        FactorSearch().add(au, eu, ann, pred)
