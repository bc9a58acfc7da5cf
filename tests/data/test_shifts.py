"""The SPEC §8 OOD shifts: parameters, ranges, determinism and orientation."""

import cv2
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from uqseg.data.shifts import SHIFT_NAMES, apply_shift
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


def test_blur_matches_scipy_gaussian_with_the_drawn_sigmas() -> None:
    images = corner_images(n=5, size=48)
    factor = np.random.default_rng(11).uniform(0.05, 0.2, size=5)
    out = apply_shift(images, "blur", seed=11)
    for image, blurred, f in zip(images, out, factor, strict=True):
        reference = gaussian_filter(image.astype(np.float64), sigma=f * 48, mode="mirror", truncate=4.0)
        np.testing.assert_allclose(blurred, reference, atol=2e-3)


def test_contrast_is_clahe_within_the_original_range() -> None:
    images = corner_images() * 3.0 - 1.0
    out = apply_shift(images, "contrast", seed=0)
    for image, shifted in zip(images, out, strict=True):
        low, high = image.min(), image.max()
        assert shifted.min() >= low - 1e-5 and shifted.max() <= high + 1e-5
        levels = (shifted - low) / (high - low) * 255.0
        np.testing.assert_allclose(levels, np.rint(levels), atol=1e-3)
        as_uint8 = np.rint((image - low) / (high - low) * 255).astype(np.uint8)
        clahe = cv2.createCLAHE(clipLimit=5.0, tileGridSize=(8, 8)).apply(as_uint8)
        np.testing.assert_allclose(levels, clahe, atol=1e-3)


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
