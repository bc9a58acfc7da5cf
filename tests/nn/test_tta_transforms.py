"""TTA augmentations: round trips, orientation against hand-computed maps, kernels, colour space, determinism."""

from __future__ import annotations

import colorsys
import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from uqseg.errors import ConfigError
from uqseg.nn.tta_transforms import (
    STRONG,
    WEAK,
    Draw,
    augment,
    augment_set,
    draw_augmentations,
    gaussian_kernels,
    hsv_to_rgb,
    invert,
    motion_kernels,
    rgb_to_hsv,
    to_augmented,
    to_original,
    warp_forward,
)

GEOMETRY_ONLY = replace(WEAK, noise_p=0.0)


def geometric_draw(flip: list[bool], matrices: torch.Tensor, channels: int = 1) -> Draw:
    """A draw with the given flips and forward matrices A (N×2×2) and no photometric change."""
    n = len(flip)
    delta = torch.ones(n, 1, 1)
    return Draw(flip=torch.tensor(flip), matrix=matrices.double(), perm=torch.arange(channels).repeat(n, 1),
                hsv=torch.zeros(n, 3), motion=delta, gauss=delta, noise_std=torch.zeros(n), noise_per_channel=True,
                noise_seed=0)


def rotation(deg: float) -> torch.Tensor:
    a = math.radians(deg)
    return torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


def blob(size: int, x: float, y: float, sigma: float = 1.5) -> torch.Tensor:
    """A Gaussian blob 1×1×size×size centred at (x, y) in pixels from the image centre."""
    c = torch.arange(size, dtype=torch.float64) + 0.5 - size / 2
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))[None, None].float()


def centroid(image: torch.Tensor) -> torch.Tensor:
    """(x, y) centroid of a 1×1×H×W non-negative map, in pixels from the centre."""
    size = image.shape[-1]
    c = torch.arange(size, dtype=torch.float64) + 0.5 - size / 2
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    w = image[0, 0].double()
    return torch.stack([(w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()])


def l_shape(size: int = 32) -> torch.Tensor:
    """A non-symmetric label map H×W: an off-centre L of class 1 and a small bar of class 2."""
    label = torch.zeros(size, size, dtype=torch.long)
    label[6:24, 8:13] = 1
    label[19:24, 8:22] = 1
    label[4:8, 18:28] = 2
    return label


def test_flip_round_trip_is_exact_and_flips_columns():
    image = torch.rand(2, 3, 9, 12)
    draw = geometric_draw([True, False], torch.eye(2).repeat(2, 1, 1), channels=3)
    forward = warp_forward(image, draw)
    assert torch.equal(forward[0], image[0].flip(-1))
    assert torch.equal(forward[1], image[1])
    probs = torch.rand(2, 4, 9, 12)
    probs = probs / probs.sum(1, keepdim=True)
    assert torch.allclose(invert(warp_forward(probs, draw), draw), probs, atol=1e-6, rtol=0)
    assert torch.equal(invert(warp_forward(probs, draw), draw).argmax(1), probs.argmax(1))


def test_rotation_orientation_matches_the_hand_computed_map():
    # A = rotation by +90° sends (x, y) to (−y, x): a blob right of the centre moves below it (rows grow downwards);
    # with the flip first, a blob left of the centre does the same.
    a = rotation(90.0)[None]
    draw = geometric_draw([False], a)
    moved = centroid(warp_forward(blob(32, 6.0, 0.0), draw))
    assert torch.allclose(moved, torch.tensor([0.0, 6.0], dtype=torch.float64), atol=0.05)
    assert torch.allclose(to_augmented(draw, torch.tensor([[[6.0, 0.0]]])), torch.tensor([[[0.0, 6.0]]],
                                                                                         dtype=torch.float64))
    flipped = geometric_draw([True], a)
    moved = centroid(warp_forward(blob(32, -6.0, 0.0), flipped))
    assert torch.allclose(moved, torch.tensor([0.0, 6.0], dtype=torch.float64), atol=0.05)


def test_zoom_moves_points_away_from_the_centre():
    draw = geometric_draw([False], 1.2 * torch.eye(2)[None])
    moved = centroid(warp_forward(blob(32, 5.0, -4.0), draw))
    assert torch.allclose(moved, torch.tensor([6.0, -4.8], dtype=torch.float64), atol=0.1)


def test_composed_inverse_of_flip_rotate_scale_maps_a_known_point_back():
    a = (rotation(17.0) * 0.85)[None]
    draw = geometric_draw([True], a)
    p = torch.tensor([[[4.0, -3.0]]])
    q = to_augmented(draw, p)
    expected = (torch.tensor([-4.0, -3.0]) @ a[0].T).double()  # flip, then A
    assert torch.allclose(q[0, 0], expected, atol=1e-12)
    assert torch.allclose(to_original(draw, q), p.double(), atol=1e-12)
    image = blob(32, 4.0, -3.0)
    forward = warp_forward(image, draw)
    assert torch.allclose(centroid(forward), q[0, 0], atol=0.1)
    back = invert(torch.cat([forward, 1 - forward], 1), draw)[:, :1]
    assert torch.allclose(centroid(back), p[0, 0].double(), atol=0.1)


def test_one_hot_round_trip_differs_only_near_borders_and_class_boundaries():
    size, n = 32, 16
    label = l_shape(size)
    onehot = F.one_hot(label, 3).permute(2, 0, 1).float()[None].repeat(n, 1, 1, 1)
    draw = draw_augmentations(GEOMETRY_ONLY, n, 3, torch.Generator().manual_seed(3))
    back = invert(warp_forward(onehot, draw), draw).argmax(1)
    # pixels at least 2 px from a class boundary, whose forward image lies 2 px inside the frame
    boundary = F.max_pool2d(onehot[:1], 5, 1, 2) - (-F.max_pool2d(-onehot[:1], 5, 1, 2))
    interior = boundary.sum(1)[0] == 0
    c = torch.arange(size, dtype=torch.float64) + 0.5 - size / 2
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    points = torch.stack([xx, yy], -1).reshape(1, -1, 2).repeat(n, 1, 1)
    inside = (to_augmented(draw, points).abs() < size / 2 - 2).all(-1).reshape(n, size, size)
    keep = inside & interior
    assert bool(keep.any(0).sum() > size * size / 2)
    assert torch.equal(back[keep], label.expand(n, -1, -1)[keep])
    assert float((back != label).float().mean()) < 0.15
    assert not torch.equal(warp_forward(onehot, draw).argmax(1), label.expand(n, -1, -1))


def test_draws_are_deterministic_given_the_seed_and_vary_per_row():
    image = torch.rand(6, 3, 16, 16)
    a = augment(image, draw_augmentations(STRONG, 6, 3, torch.Generator().manual_seed(5)))
    b = augment(image, draw_augmentations(STRONG, 6, 3, torch.Generator().manual_seed(5)))
    c = augment(image, draw_augmentations(STRONG, 6, 3, torch.Generator().manual_seed(6)))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    draw = draw_augmentations(WEAK, 64, 3, torch.Generator().manual_seed(0))
    angles = torch.rad2deg(torch.atan2(draw.matrix[:, 1, 0], draw.matrix[:, 0, 0]))
    assert float(angles.abs().max()) <= 22.5 + 1e-9 and len(set(angles.tolist())) == 64
    zoom = torch.linalg.det(draw.matrix).sqrt()
    assert float(zoom.min()) >= 0.8 - 1e-9 and float(zoom.max()) <= 1.2 + 1e-9
    assert 10 < int(draw.flip.sum()) < 54 and 10 < int(((zoom - 1).abs() < 1e-12).sum()) < 54


def test_weak_and_strong_sets_follow_the_authors_ranges():
    assert (WEAK.rotate_deg, WEAK.scale, WEAK.flip_p, WEAK.noise_variance) == (22.5, (0.8, 1.2), 0.5, (0.0, 0.01))
    assert (STRONG.rotate_deg, STRONG.scale, STRONG.shear_deg, STRONG.noise_variance) == (30.0, (0.7, 1.3), 20.0,
                                                                                          (0.0, 0.02))
    lidc = augment_set("weak", (0.002, 0.02), noise_per_channel=False)
    assert lidc.noise_variance == (0.002, 0.02) and not lidc.noise_per_channel and lidc.rotate_deg == 22.5
    with pytest.raises(ConfigError, match="unknown augmentation set"):
        augment_set("medium")


def test_noise_is_shared_or_per_channel_with_the_drawn_variance():
    image = torch.zeros(2, 3, 64, 64)
    image[:, :, 0, 0] = 1.0  # range [0, 1], so noise is in image units
    for per_channel in (True, False):
        aug = replace(GEOMETRY_ONLY, flip_p=0.0, rotate_deg=0.0, scale_p=0.0, noise_p=1.0,
                      noise_variance=(0.01, 0.01), noise_per_channel=per_channel)
        out = augment(image, draw_augmentations(aug, 2, 3, torch.Generator().manual_seed(1)))
        noise = out - image
        assert abs(float(noise.std()) - 0.1) < 0.005
        assert torch.equal(noise[:, 0], noise[:, 1]) != per_channel


def test_channel_shuffle_permutes_channels():
    image = torch.rand(8, 3, 8, 8)
    aug = replace(GEOMETRY_ONLY, flip_p=0.0, rotate_deg=0.0, scale_p=0.0, channel_shuffle_p=1.0)
    draw = draw_augmentations(aug, 8, 3, torch.Generator().manual_seed(2))
    out = augment(image, draw)
    for i in range(8):
        assert torch.allclose(out[i], image[i, draw.perm[i]], atol=1e-6)
    assert any(draw.perm[i].tolist() != [0, 1, 2] for i in range(8))


def test_hsv_conversion_matches_colorsys():
    rgb = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    hsv = rgb_to_hsv(rgb)
    for i in range(5):
        for j in range(7):
            expected = colorsys.rgb_to_hsv(*rgb[0, :, i, j].tolist())
            assert torch.allclose(hsv[0, :, i, j], torch.tensor(expected), atol=1e-6)
    assert torch.allclose(hsv_to_rgb(hsv), rgb, atol=1e-6)


def test_blur_kernels_by_hand():
    line = motion_kernels(torch.tensor([3]), torch.tensor([0.0]), 5)[0]
    expected = torch.zeros(5, 5)
    expected[2, 1:4] = 1 / 3
    assert torch.allclose(line, expected)
    vertical = motion_kernels(torch.tensor([5]), torch.tensor([math.pi / 2]), 5)[0]
    expected = torch.zeros(5, 5)
    expected[:, 2] = 1 / 5
    assert torch.allclose(vertical, expected)
    gauss = gaussian_kernels(torch.tensor([3]), 5)[0]
    g = torch.exp(-torch.tensor([1.0, 0.0, 1.0]) / (2 * 0.8**2))
    g = g / g.sum()
    assert torch.allclose(gauss[1:4, 1:4], g[:, None] * g[None], atol=1e-6)
    assert float(gauss[0].abs().sum() + gauss[:, 0].abs().sum()) == 0.0


def test_strong_augmentation_keeps_the_image_range_and_is_finite():
    image = torch.randn(16, 3, 24, 24)
    out = augment(image, draw_augmentations(STRONG, 16, 3, torch.Generator().manual_seed(4)))
    assert out.shape == image.shape and bool(torch.isfinite(out).all())
    low, high = image.amin((1, 2, 3)), image.amax((1, 2, 3))
    span = high - low  # photometric changes act within each image's range; noise (σ ≤ 0.15 of it) may leave it
    assert bool((out.amin((1, 2, 3)) > low - 0.8 * span).all() & (out.amax((1, 2, 3)) < high + 0.8 * span).all())
    grey = augment(torch.randn(4, 1, 16, 16), draw_augmentations(STRONG, 4, 1, torch.Generator().manual_seed(4)))
    assert bool(torch.isfinite(grey).all())
