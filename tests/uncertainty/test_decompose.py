"""Tests of the TU/AU/EU decomposition and the streaming accumulator (docs/method.md §1)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from uqseg.errors import InputError
from uqseg.uncertainty import UncertaintyAccumulator, decompose


def _probs(rng, shape):
    x = rng.random(shape) + 1e-3
    return x / x.sum(-3, keepdims=True)


def test_hand_computed_two_instances():
    p = np.zeros((2, 1, 2, 1, 1))
    p[0, 0, :, 0, 0] = [1.0, 0.0]
    p[1, 0, :, 0, 0] = [0.0, 1.0]
    m = decompose(p)
    assert m.tu[0, 0] == pytest.approx(math.log(2))
    assert m.au[0, 0] == pytest.approx(0.0)
    assert m.eu[0, 0] == pytest.approx(math.log(2))


def test_nesting_averages_inside_instance_first():
    p = np.zeros((1, 2, 2, 1, 1))
    p[0, 0, :, 0, 0] = [1.0, 0.0]
    p[0, 1, :, 0, 0] = [0.0, 1.0]
    m = decompose(p)
    assert m.au[0, 0] == pytest.approx(math.log(2))
    assert m.eu[0, 0] == pytest.approx(0.0)


def test_torch_matches_numpy_and_streaming_matches_oneshot():
    rng = np.random.default_rng(0)
    p = _probs(rng, (4, 3, 2, 3, 5, 7))
    ref = decompose(p)
    t = decompose(torch.tensor(p))
    assert isinstance(t.tu, torch.Tensor)
    np.testing.assert_allclose(t.eu.numpy(), ref.eu, atol=1e-12)
    acc = UncertaintyAccumulator()
    for m in range(4):
        acc.update(p[m])
    r = acc.result()
    for a, b in [(r.tu, ref.tu), (r.au, ref.au), (r.eu, ref.eu), (r.mean, ref.mean)]:
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_no_eu_each_sample_is_an_instance():
    rng = np.random.default_rng(1)
    s = _probs(rng, (5, 2, 2, 4, 4))
    acc = UncertaintyAccumulator()
    acc.update_no_eu(torch.tensor(s))
    r = acc.result()
    np.testing.assert_allclose(r.eu.numpy(), decompose(s, nested=False).eu, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 3), st.integers(2, 4), st.integers(0, 1000))
def test_eu_nonnegative_and_bounded(m, s, c, seed):
    p = _probs(np.random.default_rng(seed), (m, s, c, 3, 2))
    r = decompose(p)
    assert (r.eu >= 0).all() and (r.tu <= math.log(c) + 1e-9).all()
    np.testing.assert_allclose(r.tu, r.au + r.eu, atol=1e-6)


def test_bad_input_raises():
    with pytest.raises(InputError, match="probs"):
        decompose(np.full((2, 1, 2, 3, 3), np.nan))
    with pytest.raises(InputError, match="negative"):
        decompose(np.full((2, 1, 2, 3, 3), -0.5))
    with pytest.raises(InputError, match="axes"):
        decompose(np.full((2, 3, 3), 0.5))
    with pytest.raises(InputError):
        UncertaintyAccumulator().result()


@pytest.mark.parametrize("as_tensor", [False, True])
@pytest.mark.parametrize(("values", "problem"), [([1.5, 0.5], "exceed 1"), ([0.3, 0.3], "sum to 1")])
def test_not_probabilities_are_refused(as_tensor: bool, values: list[float], problem: str) -> None:
    """Values above 1 or rows that do not sum to 1 over the class axis would give negative or wrong entropies."""
    from uqseg.uncertainty import entropy

    p = np.zeros((2, 1, 2, 3, 3))
    p[:, :, 0], p[:, :, 1] = 0.5, 0.5
    p[1, 0, :, 2, 1] = values
    p = torch.tensor(p) if as_tensor else p
    with pytest.raises(InputError, match=f"probs.*{problem}"):
        decompose(p)
    with pytest.raises(InputError, match=f"probs.*{problem}"):
        entropy(p)
    with pytest.raises(InputError, match=f"instance.*{problem}"):
        UncertaintyAccumulator().update(p[1][:, None])


def test_rounding_within_tolerance_is_accepted() -> None:
    from uqseg.uncertainty import entropy

    p = np.full((1, 1, 2, 2, 2), 0.5)
    p[0, 0, 0] += 5e-4
    assert np.isfinite(decompose(p).tu).all() and np.isfinite(entropy(p)).all()
    logits = torch.randn(3, 2, 8, 16, 16)
    half = torch.softmax(logits, dim=-3).half()
    acc = UncertaintyAccumulator()
    acc.update(half)
    assert torch.isfinite(acc.result().tu).all()
