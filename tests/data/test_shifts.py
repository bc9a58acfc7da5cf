"""The OOD shifts of docs/method.md §8: parameters, ranges, severity, determinism and orientation."""

import itertools

import cv2
import numpy as np
import pytest

from uqseg.data import shifts
from uqseg.data.shifts import SHIFT_NAMES, apply_shift, clahe_tiles, draw_blur_parameters, jpeg_quality, odd_kernel
from uqseg.data.synthetic import lidc, shapes
from uqseg.data.synthetic.options import split_rngs
from uqseg.errors import ConfigError, InputError


def corner_images(n: int = 6, size: int = 64, channels: int | None = None) -> np.ndarray:
    """Non-symmetric images: a bright block in the top-left corner, a horizontal ramp and texture."""
    rng = np.random.default_rng(3)
    images = np.tile(np.linspace(0.0, 0.3, size, dtype=np.float32), (n, size, 1))
    images[:, : size // 4, : size // 4] += 1.0
    images += 0.05 * rng.standard_normal(images.shape).astype(np.float32)
    if channels is None:
        return images
    return np.stack([images * (0.6 + 0.2 * c) for c in range(channels)], axis=1)


def test_unknown_shift_and_bad_shape() -> None:
    with pytest.raises(ConfigError, match="unknown shift 'rain'"):
        apply_shift(corner_images(), "rain", seed=0)
    with pytest.raises(InputError, match="N×H×W or N×C×H×W"):
        apply_shift(np.zeros((4, 4), np.float32), "noise", seed=0)
    with pytest.raises(InputError, match="NaN"):
        apply_shift(np.full((1, 8, 8), np.nan, np.float32), "blur", seed=0)


@pytest.mark.parametrize("name", SHIFT_NAMES)
@pytest.mark.parametrize("channels", [None, 1, 3])
def test_shape_dtype_determinism_and_change(name: str, channels: int | None) -> None:
    images = corner_images(channels=channels).astype(np.float64)
    first = apply_shift(images, name, seed=7)
    assert first.shape == images.shape and first.dtype == np.float32
    assert first.tobytes() == apply_shift(images, name, seed=7).tobytes()
    assert np.abs(first - images).mean() > 1e-3
    assert np.isfinite(first).all()


@pytest.mark.parametrize("name", SHIFT_NAMES)
def test_grey_layouts_agree(name: str) -> None:
    images = corner_images()
    np.testing.assert_array_equal(apply_shift(images, name, 1), apply_shift(images[:, None], name, 1)[:, 0])


@pytest.mark.parametrize("name", SHIFT_NAMES)
@pytest.mark.parametrize("channels", [None, 3])
def test_orientation_is_preserved(name: str, channels: int | None) -> None:
    images = corner_images(channels=channels)
    shifted = apply_shift(images, name, seed=5)
    grey = shifted if channels is None else shifted.mean(axis=1)
    half = grey.shape[-1] // 2
    quadrants = np.stack([grey[:, :half, :half].mean((1, 2)), grey[:, :half, half:].mean((1, 2)),
                          grey[:, half:, :half].mean((1, 2)), grey[:, half:, half:].mean((1, 2))], axis=1)
    if name != "contrast":  # CLAHE equalises each 16-px tile, so quadrant brightness is not kept by design
        assert (quadrants.argmax(axis=1) == 0).all()
    original = images if channels is None else images.mean(axis=1)
    for image, out in zip(original, grey, strict=True):
        assert np.corrcoef(image.ravel(), out.ravel())[0, 1] > np.corrcoef(image.T.ravel(), out.ravel())[0, 1]


def test_noise_std_is_a_per_image_fraction_of_the_image_std() -> None:
    rng = np.random.default_rng(0)
    images = rng.normal(0.0, 1.0, (40, 96, 96)).astype(np.float32) * rng.uniform(0.5, 3.0, (40, 1, 1))
    ratio = (apply_shift(images, "noise", seed=2) - images).std(axis=(1, 2)) / images.std(axis=(1, 2))
    assert ratio.min() > 0.1 * 0.95 and ratio.max() < 0.5 * 1.05
    assert ratio.max() - ratio.min() > 0.2


def lung_like(n: int, size: int) -> np.ndarray:
    """Realistic noise-free grey crops: smooth background, vessels and a lesion (synthetic-lidc minus pixel noise)."""
    scene_rng, rng, _ = split_rngs(0, 1, 2)
    scenes = lidc.sample_scenes(scene_rng, n, size, 1.0)
    raw = 0.25 + 0.06 * shapes.smooth_field(rng, n, size, scale=0.08)[:, 0]
    vessels = shapes.line_intensity(size, rng.uniform(0, size, (n, 3)), rng.uniform(0, size, (n, 3)),
                                    rng.uniform(0, np.pi, (n, 3)), rng.uniform(0.02, 0.05, (n, 3)) * size,
                                    rng.uniform(-1.0, 1.0, (n, 3)) / size)
    raw += np.einsum("nm,nmhw->nhw", rng.uniform(0.05, 0.2, (n, 3)).astype(np.float32), vessels)
    return (raw + 0.8 * scenes.contrast[:, None, None] * scenes.profile).astype(np.float32)


def relative_change(images: np.ndarray, shifted: np.ndarray) -> np.ndarray:
    """‖shifted − x‖ / ‖x − mean(x)‖ per image."""
    x, y = images.reshape(len(images), -1).astype(np.float64), shifted.reshape(len(images), -1)
    return np.linalg.norm(y - x, axis=1) / np.linalg.norm(x - x.mean(axis=1, keepdims=True), axis=1)


def truncated_gaussian_blur(image: np.ndarray, k: int, sigma: float) -> np.ndarray:
    """Brute force: a separable k-tap Gaussian (weights normalised over the taps), mirrored borders (no OpenCV)."""
    offsets = np.arange(k) - k // 2
    weights = np.exp(-(offsets ** 2) / (2.0 * sigma ** 2))
    weights /= weights.sum()
    padded = np.pad(image.astype(np.float64), k // 2, mode="reflect")
    rows = sum(w * padded[:, j: j + image.shape[1]] for j, w in enumerate(weights))
    return sum(w * rows[i: i + image.shape[0], :] for i, w in enumerate(weights))


def test_odd_kernel_and_kernel_scaling_by_hand() -> None:
    assert [odd_kernel(x) for x in (0.5, 1.5, 2.5, 3.5, 4.0, 5.0, 7.0, 14.0)] == [3, 3, 3, 3, 5, 5, 7, 15]
    rng = np.random.default_rng(0)
    assert set(draw_blur_parameters(rng, 500, 64)[0]) == {3}
    assert set(draw_blur_parameters(rng, 500, 256)[0]) == {7, 11, 15}
    assert set(draw_blur_parameters(rng, 500, 128, severity=2.0)[0]) == {7, 11, 15}


def test_blur_parameters_follow_albumentations_1_3_0_at_128() -> None:
    """Kernel randrange(3, 8), even sizes + 1: P(3, 5, 7) = (1/5, 2/5, 2/5); σ ~ U[0.05, 0.2] · 128."""
    kernels, sigmas = draw_blur_parameters(np.random.default_rng(1), 20000, 128)
    frequencies = [np.mean(kernels == k) for k in (3, 5, 7)]
    np.testing.assert_allclose(frequencies, [0.2, 0.4, 0.4], atol=0.015)
    assert sigmas.min() >= 6.4 and sigmas.max() <= 25.6 and np.ptp(sigmas) > 18.0


def test_blur_matches_a_brute_force_truncated_gaussian_with_the_drawn_parameters() -> None:
    images = lung_like(4, 128)
    out = apply_shift(images, "blur", seed=11)
    kernels, sigmas = draw_blur_parameters(np.random.default_rng(11), 4, 128)
    for image, blurred, k, sigma in zip(images, out, kernels, sigmas, strict=True):
        np.testing.assert_allclose(blurred, truncated_gaussian_blur(image, int(k), float(sigma)), atol=1e-5)
        direct = cv2.GaussianBlur(image, (int(k), int(k)), float(sigma), borderType=cv2.BORDER_REFLECT_101)
        np.testing.assert_allclose(blurred, direct, atol=1e-6)


def test_blur_is_mild_at_128_unlike_a_full_gaussian_with_the_same_sigma() -> None:
    """The authors' blur changes a realistic 128-px crop by a few to ~25 %; a full Gaussian flattens it."""
    images = lung_like(60, 128)
    change = relative_change(images, apply_shift(images, "blur", seed=7))
    assert change.min() > 0.005 and change.max() < 0.3 and np.median(change) < 0.12
    _, sigmas = draw_blur_parameters(np.random.default_rng(7), 60, 128)
    full = np.stack([cv2.GaussianBlur(x, (0, 0), float(s), borderType=cv2.BORDER_REFLECT_101)
                     for x, s in zip(images, sigmas, strict=True)])
    assert np.median(relative_change(images, full)) > 0.4


def test_noise_scales_with_severity_and_is_not_clipped() -> None:
    rng = np.random.default_rng(0)
    images = rng.uniform(0.0, 1.0, (30, 48, 48)).astype(np.float32)
    ratio = (apply_shift(images, "noise", seed=2, severity=2.0) - images).std(axis=(1, 2)) / images.std(axis=(1, 2))
    assert ratio.min() > 0.2 * 0.95 and ratio.max() < 1.0 * 1.05
    out = apply_shift(images, "noise", seed=2)
    assert out.min() < 0.0 and out.max() > 1.0


@pytest.mark.parametrize(("size", "tiles", "severity"),
                         [(128, 8, 1.0), (64, 4, 1.0), (32, 2, 0.5), (32, 3, 3.0), (64, 8, 4.0), (48, 5, 3.0)])
def test_contrast_is_clahe_with_a_drawn_clip_limit(size: int, tiles: int, severity: float) -> None:
    """Recomputed with OpenCV: clip ~ severity · U[1, 5] per image, 8 tiles at 128 scaled with the side and, above
    severity 1, by √severity (3 at 32 px and severity 3: round(2 · 1.732))."""
    assert clahe_tiles(size, severity) == tiles
    images = corner_images(size=size) * 3.0 - 1.0
    out = apply_shift(images, "contrast", seed=0, severity=severity)
    clips = severity * np.random.default_rng(0).uniform(1.0, 5.0, size=len(images))
    differs_from_clip_5 = 0
    for image, shifted, clip in zip(images, out, clips, strict=True):
        low, high = image.min(), image.max()
        assert shifted.min() >= low - 1e-5 and shifted.max() <= high + 1e-5
        levels = (shifted - low) / (high - low) * 255.0
        np.testing.assert_allclose(levels, np.rint(levels), atol=1e-3)
        as_uint8 = np.rint((image - low) / (high - low) * 255).astype(np.uint8)
        clahe = cv2.createCLAHE(clipLimit=float(clip), tileGridSize=(tiles, tiles)).apply(as_uint8)
        np.testing.assert_allclose(levels, clahe, atol=1e-3)
        fixed = cv2.createCLAHE(clipLimit=5.0, tileGridSize=(tiles, tiles)).apply(as_uint8)
        differs_from_clip_5 += int(np.abs(levels - fixed).max() > 1)
    assert differs_from_clip_5 >= len(images) // 2


def test_contrast_tiles_grow_with_severity_only_above_one() -> None:
    severities = [0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0]
    tiles = [clahe_tiles(32, s) for s in severities]
    assert tiles[:3] == [2, 2, 2]
    assert tiles == sorted(tiles) and tiles[-1] == round(2 * 8**0.5)


def test_constant_images_pass_through_uint8_shifts() -> None:
    constant = np.full((2, 16, 16), 0.25, np.float32)
    for name in ("contrast", "jpeg"):
        np.testing.assert_array_equal(apply_shift(constant, name, seed=0), constant)


def test_jpeg_is_lossy_at_quality_10_to_20() -> None:
    images = corner_images(n=8)
    out = apply_shift(images, "jpeg", seed=4)
    for image, shifted in zip(images, out, strict=True):
        low, high = image.min(), image.max()
        as_uint8 = np.rint((image - low) / (high - low) * 255).astype(np.uint8)
        _, high_quality = cv2.imencode(".jpg", as_uint8, [cv2.IMWRITE_JPEG_QUALITY, 30])
        error_30 = np.abs(cv2.imdecode(high_quality, cv2.IMREAD_GRAYSCALE) / 255.0 * (high - low) + low - image).mean()
        assert np.abs(shifted - image).mean() > error_30
        assert shifted.min() >= low - 1e-5 and shifted.max() <= high + 1e-5


@pytest.mark.parametrize("name", ["contrast", "jpeg"])
def test_colour_shifts_keep_channel_order(name: str) -> None:
    """RGB stays RGB through OpenCV (no BGR swap): a reddish image with a blue square stays so."""
    images = np.zeros((2, 3, 32, 32), np.float32)
    images[:, 0] = 0.8
    images[:, 1] = 0.2
    images[:, 2, :8, :8] = 0.9
    images[:, 0, :8, :8] = 0.1
    out = apply_shift(images, name, seed=0)
    background, square = out[:, :, 16:, 16:].mean(axis=(0, 2, 3)), out[:, :, 2:6, 2:6].mean(axis=(0, 2, 3))
    assert background[0] > background[1] > background[2] - 1e-3
    assert square[2] > square[0]


def test_jpeg_quality_by_hand_and_exact_at_severity_1() -> None:
    np.testing.assert_array_equal(jpeg_quality(np.array([10, 15, 20]), 2.0), [5, 8, 10])
    np.testing.assert_array_equal(jpeg_quality(np.array([10, 15, 20]), 0.5), [20, 30, 40])
    np.testing.assert_array_equal(jpeg_quality(np.array([1, 10]), 8.0), [1, 1])
    images = corner_images(n=3)
    out = apply_shift(images, "jpeg", seed=4)
    qualities = np.random.default_rng(4).integers(10, 21, size=3)
    for image, shifted, quality in zip(images, out, qualities, strict=True):
        low, high = image.min(), image.max()
        as_uint8 = np.rint((image - low) / (high - low) * 255).astype(np.uint8)
        _, buffer = cv2.imencode(".jpg", as_uint8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        reference = cv2.imdecode(buffer, cv2.IMREAD_GRAYSCALE) / 255.0 * (high - low) + low
        np.testing.assert_allclose(shifted, reference, atol=1e-5)


@pytest.mark.parametrize("name", SHIFT_NAMES)
def test_strength_grows_with_severity(name: str) -> None:
    images = lung_like(24, 64) + 0.01 * np.random.default_rng(0).standard_normal((24, 64, 64)).astype(np.float32)
    changes = [np.median(relative_change(images, apply_shift(images, name, seed=3, severity=s)))
               for s in (0.5, 1.0, 2.0, 4.0)]
    assert all(b > a for a, b in itertools.pairwise(changes)), changes


def test_default_severity_is_one() -> None:
    images = corner_images()
    for name in SHIFT_NAMES:
        np.testing.assert_array_equal(apply_shift(images, name, 5), apply_shift(images, name, 5, severity=1.0))


@pytest.mark.parametrize("severity", [0, -1.0, shifts.MAX_SEVERITY + 1, "2", True, float("nan")])
def test_bad_severity_is_refused(severity: object) -> None:
    with pytest.raises(ConfigError, match="shift 'blur': severity must"):
        apply_shift(corner_images(), "blur", seed=0, severity=severity)  # type: ignore[arg-type]
