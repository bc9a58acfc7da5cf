"""The border-frame diagnostic against a hand case and a brute-force loop."""

import math

import numpy as np
import pytest

from uqseg.errors import InputError
from uqseg.metrics.frame import frame_ratio


def _brute_force(u: np.ndarray, ann: np.ndarray, ring: int) -> float:
    n, h, w = u.shape
    groups: dict[int, tuple[list, list]] = {}
    for i in range(n):
        marked = [(y, x) for y in range(h) for x in range(w) if (ann[i, :, y, x] != 0).any()]
        for y in range(h):
            for x in range(w):
                if (ann[i, :, y, x] != 0).any():
                    continue
                d = min(math.floor(math.hypot(y - a, x - b)) for a, b in marked) if marked else -1
                on_frame = y < ring or x < ring or y >= h - ring or x >= w - ring
                groups.setdefault(d, ([], []))[0 if on_frame else 1].append(u[i, y, x])
    num = sum(sum(f) for f, g in groups.values() if f and g)
    den = sum(len(f) * np.mean(g) for f, g in groups.values() if f and g)
    return num / den


def test_flat_map_scores_one_and_a_frame_scores_its_contrast():
    ann = np.zeros((1, 2, 12, 12), dtype=np.int64)
    ann[0, 0, 5:7, 5:8] = 1
    flat = np.full((1, 12, 12), 0.3)
    assert frame_ratio(ann, flat) == pytest.approx(1.0)
    framed = flat.copy()
    framed[0, :2, :] = framed[0, -2:, :] = framed[0, :, :2] = framed[0, :, -2:] = 0.9
    assert frame_ratio(ann, framed) == pytest.approx(3.0)


def test_a_map_that_decays_with_distance_from_the_objects_scores_one():
    ann = np.zeros((1, 1, 16, 20), dtype=np.int64)
    ann[0, 0, 3:6, 4:9] = 1
    from scipy.ndimage import distance_transform_edt

    distance = np.floor(distance_transform_edt(ann[0, 0] == 0))
    decaying = np.exp(-distance / 3.0)[None]
    assert frame_ratio(ann, decaying) == pytest.approx(1.0)


def test_matches_brute_force_on_random_non_symmetric_images():
    rng = np.random.default_rng(3)
    u = rng.random((3, 11, 14))
    ann = np.zeros((3, 3, 11, 14), dtype=np.int64)
    ann[0, 1, 2:5, 3:9] = 1
    ann[1, 0, 6:9, 8:12] = 2
    u[:, 0, :] += 2.0
    assert frame_ratio(ann, u, ring=2) == pytest.approx(_brute_force(u, ann, 2))
    assert frame_ratio(ann, u, ring=1) == pytest.approx(_brute_force(u, ann, 1))


def test_bad_input_is_named():
    with pytest.raises(InputError, match="annotations"):
        frame_ratio(np.zeros((2, 1, 8, 9), dtype=np.int64), np.zeros((2, 8, 8)))
    with pytest.raises(InputError, match="ring"):
        frame_ratio(np.zeros((1, 1, 4, 4), dtype=np.int64), np.zeros((1, 4, 4)), ring=2)
    with pytest.raises(InputError, match=r"swapped.*frame_ratio\(annotations, maps\)"):
        frame_ratio(np.zeros((2, 8, 8)), np.zeros((2, 1, 8, 8), dtype=np.int64))
