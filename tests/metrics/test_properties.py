"""Hypothesis properties of the functional metrics (docs/method.md §2–§3)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from uqseg.metrics import STRATEGIES, ace, aggregate, entanglement, ncc

seeds = st.integers(0, 10_000)


@settings(max_examples=30, deadline=None)
@given(seeds, st.integers(2, 6), st.integers(2, 6))
def test_ncc_bounded_symmetric_scale_invariant(seed, h, w):
    rng = np.random.default_rng(seed)
    a, b = rng.random((h, w)), rng.random((h, w))
    r = ncc(a, b)
    assert -1 - 1e-12 <= r <= 1 + 1e-12
    assert np.isclose(r, ncc(b, a)) and np.isclose(r, ncc(3 * a + 1, b))


@settings(max_examples=30, deadline=None)
@given(seeds, st.integers(1, 50), st.integers(1, 30))
def test_ace_in_unit_interval(seed, n, bins):
    rng = np.random.default_rng(seed)
    assert 0 <= ace(rng.integers(0, 2, n), rng.random(n), bins=bins) <= 1


@settings(max_examples=20, deadline=None)
@given(seeds, st.integers(1, 12), st.integers(1, 12))
def test_aggregations_nonnegative_and_finite(seed, h, w):
    rng = np.random.default_rng(seed)
    u, pred = rng.random((2, h, w)), rng.integers(0, 2, (2, h, w))
    for s in STRATEGIES:
        v = aggregate(u, pred, s, tau=0.5, patch_size=10)
        assert v.shape == (2,) and np.isfinite(v).all() and (v >= 0).all()


@settings(max_examples=30, deadline=None)
@given(st.floats(0.01, 10), st.floats(0.01, 10))
def test_entanglement_antisymmetric_and_bounded(c, w):
    d = entanglement(c, w)
    assert -1 <= d <= 1 and np.isclose(d, -entanglement(w, c))
    assert np.isclose(entanglement(c, w, lower_is_better=True), -d)
