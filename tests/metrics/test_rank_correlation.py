"""AU–EU rank correlation (docs/method.md "Open questions") against scipy.stats.spearmanr on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from uqseg.errors import InputError
from uqseg.metrics.rank_correlation import RankCorrelation, pixel_keys, spearman


def _maps(n: int = 7, h: int = 6, w: int = 9, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    au = rng.gamma(2.0, 0.2, size=(n, h, w))
    eu = 0.01 * au**2 + rng.gamma(1.0, 0.002, size=(n, h, w))  # monotone in AU plus noise: ρ high but < 1
    eu[0, :2, :3] = 0.0  # ties among the EU values
    return au, eu


def test_spearman_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 5, 200).astype(float), rng.normal(size=200)
    y[:50] = x[:50]
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert spearman(x, -x**3) == pytest.approx(-1.0)
    assert spearman(np.ones(5), np.arange(5.0)) == 0.0  # constant: no association, not NaN
    with pytest.raises(InputError):
        spearman([1.0], [2.0])


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_exact_when_the_split_fits(batch: int) -> None:
    au, eu = _maps()
    rc = RankCorrelation(max_pixels=au.size)
    for i in range(0, len(au), batch):
        rc.add(au[i:i + batch], eu[i:i + batch])
    assert rc.images == 7 and rc.pixels == au.size
    assert rc.pixel() == pytest.approx(spearmanr(au.ravel(), eu.ravel()).statistic, abs=1e-12)
    assert rc.image() == pytest.approx(spearmanr(au.mean((1, 2)), eu.mean((1, 2))).statistic, abs=1e-12)
    within = [spearmanr(a.ravel(), e.ravel()).statistic for a, e in zip(au, eu, strict=True)]
    assert rc.pixel_per_image() == pytest.approx(np.mean(within), abs=1e-12)
    index, a, e = rc.sample()
    np.testing.assert_array_equal(index, np.arange(au.size))
    np.testing.assert_array_equal(a, au.ravel())
    np.testing.assert_array_equal(e, eu.ravel())


def test_sample_is_seeded_uniform_and_independent_of_batching() -> None:
    au, eu = _maps(n=20, h=8, w=8)
    whole, batched, other = RankCorrelation(100, seed=3), RankCorrelation(100, seed=3), RankCorrelation(100, seed=4)
    whole.add(au, eu)
    other.add(au, eu)
    for i in range(0, 20, 6):
        batched.add(au[i:i + 6], eu[i:i + 6])
    idx, a, e = whole.sample()
    np.testing.assert_array_equal(idx, batched.sample()[0])
    assert idx.size == 100 and np.unique(idx).size == 100 and not np.array_equal(idx, other.sample()[0])
    np.testing.assert_array_equal(a, au.ravel()[idx])  # values stay with their pixel, row-major image-major
    np.testing.assert_array_equal(e, eu.ravel()[idx])
    assert whole.pixel() == pytest.approx(spearmanr(au.ravel()[idx], eu.ravel()[idx]).statistic, abs=1e-12)
    # the kept pixels are the 100 smallest priorities of all 1280
    np.testing.assert_array_equal(np.sort(idx), np.sort(np.argsort(pixel_keys(np.arange(au.size), 3))[:100]))


def test_subsample_estimates_the_full_correlation() -> None:
    au, eu = _maps(n=40, h=16, w=16, seed=5)
    rc = RankCorrelation(max_pixels=4000, seed=0)
    for i in range(0, 40, 8):
        rc.add(au[i:i + 8], eu[i:i + 8])
    full = spearmanr(au.ravel(), eu.ravel()).statistic
    assert 0.5 < full < 0.99
    assert rc.pixel() == pytest.approx(full, abs=0.02)


def test_orientation_and_errors() -> None:
    au = np.arange(12.0).reshape(1, 3, 4)
    eu = au.transpose(0, 2, 1).reshape(1, 3, 4)  # the same values read column-major: a different ranking
    rc = RankCorrelation()
    rc.add(au, eu)
    assert rc.pixel() == pytest.approx(spearmanr(au.ravel(), eu.ravel()).statistic)
    assert rc.pixel() < 1.0
    with pytest.raises(InputError, match="2 images"):
        rc.image()
    with pytest.raises(InputError, match="shapes differ"):
        rc.add(au, eu[:, :2])
    with pytest.raises(InputError, match="no maps"):
        RankCorrelation().pixel()
