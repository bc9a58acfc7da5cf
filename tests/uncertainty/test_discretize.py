"""Discretised AU samples (paper appendix A.3): one-hot argmax before the decomposition (docs/method.md §1)."""

import math

import numpy as np
import pytest
import torch

from uqseg.uncertainty import decompose, discretize


def _probs() -> np.ndarray:
    """M = 2 instances × S = 2 samples of one 1×1 image, two classes (axes M, S, B, C, H, W)."""
    p1 = [[0.6, 0.4], [0.7, 0.3]]  # instance A: both samples favour class 0
    p2 = [[0.3, 0.7], [0.45, 0.55]]  # instance B: both favour class 1
    return np.array([p1, p2], dtype=np.float64)[:, :, None, :, None, None]


def test_discretised_decomposition_hand_computed() -> None:
    p = _probs()
    hot = discretize(p)
    np.testing.assert_array_equal(hot[..., 0, 0].squeeze(), [[[1, 0], [1, 0]], [[0, 1], [0, 1]]])
    m = decompose(hot)
    # instance means are [1, 0] and [0, 1]: AU = 0, TU = EU = H([0.5, 0.5]) = log 2
    assert float(m.au.squeeze()) == 0.0
    assert float(m.tu.squeeze()) == pytest.approx(math.log(2))
    assert float(m.eu.squeeze()) == pytest.approx(math.log(2))
    soft = decompose(p)  # without discretising, AU is the mean entropy of [0.65, 0.35] and [0.375, 0.625]
    h = lambda q: -(q * math.log(q) + (1 - q) * math.log(1 - q))  # noqa: E731
    assert float(soft.au.squeeze()) == pytest.approx((h(0.65) + h(0.375)) / 2)


def test_discretize_torch_matches_numpy_and_breaks_ties_to_the_lowest_class() -> None:
    p = np.array([[0.5, 0.5], [0.2, 0.8]])[:, :, None, None]  # 2 samples, ties go to class 0
    out = discretize(torch.from_numpy(p).float())
    assert out.dtype == torch.float32
    np.testing.assert_array_equal(out.numpy(), discretize(p))
    np.testing.assert_array_equal(discretize(p)[..., 0, 0], [[1, 0], [0, 1]])
