"""The four LIDC distribution shifts (docs/method.md §8): additive noise, Gaussian blur, CLAHE contrast and JPEG.

``apply_shift(images, name, seed, severity)`` takes float images N×H×W (grey) or N×C×H×W and returns float32 of the
same shape. One RNG is made per call from ``seed``; every image draws its own parameters from it, in image order, so
the result is deterministic given the seed and the whole array (call it once per split, not per batch).

At ``severity`` 1 and 128×128 these are the transforms the authors' script really ran (albumentations 1.3.0):

- ``noise``: x + σ·ε with σ ~ U[0.1, 0.5] · std(x) (the std over all of the image's channels and pixels), not
  clipped, so the result may leave the input's range.
- ``blur``: OpenCV Gaussian blur with an odd kernel of k px and σ ~ U[0.05, 0.2] · min(H, W) (6.4–25.6 px at 128),
  reflected borders. k is drawn as albumentations 1.3.0 draws it from its default ``blur_limit=(3, 7)``: an integer
  uniform in {3, …, 7}, even values rounded up, so P(3, 5, 7) = (1/5, 2/5, 2/5). σ far exceeds the kernel, so the
  filter is close to a k×k box blur: a mild shift.
- ``contrast``: CLAHE with clip limit ~ U[1, 5] per image (albumentations turns ``clip_limit=5`` into the range
  (1, 5)) and 8×8 tiles.
- ``jpeg``: JPEG round trip at quality ~ U{10, …, 20} (OpenCV's encoder, 4:2:0 chroma for colour).

Other sizes keep the shift's footprint relative to the image: the blur kernel is scaled by side/128 and rounded to an
odd size ≥ 3 (σ is a fraction of the side already), and the CLAHE grid by side/128 (≥ 1 tile), so a tile holds
16×16 pixels as at 128. Noise and JPEG need no scaling.

``severity`` s > 0 scales each shift monotonically (s = 1 is the above):

- ``noise``: σ ~ s · U[0.1, 0.5] · std(x);
- ``blur``: σ ~ s · U[0.05, 0.2] · side and kernel ≈ s · k · side/128 (odd, ≥ 3);
- ``contrast``: clip limit ~ s · U[1, 5] (higher clip, stronger equalisation); above s = 1 the tile grid also grows
  by √s, so each tile covers 1/s of its area and the equalisation gets more local (the clip limit alone saturates:
  at 16×16-px tiles a clip of 3 already equalises fully);
- ``jpeg``: quality round(q / s) with q ~ U{10, …, 20}, at least 1; above s = 1, the image is also downsampled by
  s (area) before the JPEG round trip and upsampled back (bilinear), so 8×8 JPEG blocks cover s× more of a small
  image.

CLAHE and JPEG work on a per-image min–max uint8 copy that is mapped back to the image's original [min, max] range
(a constant image is returned unchanged). Colour (C = 3, RGB order): CLAHE equalises the L channel of CIE LAB and
JPEG compresses the image as colour. Other channel counts: CLAHE and JPEG treat each channel as a grey image.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from uqseg.errors import ConfigError, InputError

SHIFT_NAMES = ("noise", "blur", "contrast", "jpeg")
NOISE_STD_RANGE = (0.1, 0.5)
BLUR_SIGMA_RANGE = (0.05, 0.2)
BLUR_KERNEL_LIMIT = (3, 7)
CLAHE_CLIP_RANGE = (1.0, 5.0)
CLAHE_TILES = 8
JPEG_QUALITY_RANGE = (10, 20)
REFERENCE_SIDE = 128
MAX_SEVERITY = 8.0


def apply_shift(images: np.ndarray, name: str, seed: int, severity: float = 1.0) -> np.ndarray:
    """Apply shift ``name`` (docs/method.md §8) at ``severity`` to every image of ``images``; float32, same shape."""
    if name not in _SHIFTS:
        raise ConfigError(f"unknown shift {name!r}; known shifts: {', '.join(SHIFT_NAMES)}")
    check_severity(f"shift {name!r}", severity)
    array = np.asarray(images, dtype=np.float32)
    if array.ndim not in (3, 4):
        raise InputError(f"shift {name!r}: images must be N×H×W or N×C×H×W, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(f"shift {name!r}: images contain NaN or inf")
    chw = array[:, None] if array.ndim == 3 else array
    rng = np.random.default_rng(seed)
    out = _SHIFTS[name](chw, rng, float(severity))
    return np.ascontiguousarray(out.reshape(array.shape), dtype=np.float32)


def check_severity(what: str, severity: object) -> float:
    """``severity`` as a float in (0, MAX_SEVERITY]; ConfigError naming ``what`` otherwise."""
    if isinstance(severity, bool) or not isinstance(severity, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{what}: severity must be a number in (0, {MAX_SEVERITY:g}], got {severity!r}")
    value = float(severity)
    if not 0.0 < value <= MAX_SEVERITY:
        raise ConfigError(f"{what}: severity must lie in (0, {MAX_SEVERITY:g}] (1 = the paper's shift), got {value!r}")
    return value


def odd_kernel(size: float) -> int:
    """The odd integer nearest to ``size`` (halves round up), at least 3."""
    return max(3, 2 * math.floor((size - 1.0) / 2.0 + 0.5) + 1)


def draw_blur_parameters(rng: np.random.Generator, n: int, side: int, severity: float = 1.0
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per image kernel sizes (int) and σ (px) of the blur shift, in the order :func:`apply_shift` draws them."""
    low, high = BLUR_KERNEL_LIMIT
    drawn = rng.integers(low, high + 1, size=n)
    drawn = np.where(drawn % 2 == 0, drawn + 1, drawn)
    scale = severity * side / REFERENCE_SIDE
    kernels = np.array([odd_kernel(k * scale) for k in drawn], dtype=np.int64)
    sigmas = severity * rng.uniform(*BLUR_SIGMA_RANGE, size=n) * side
    return kernels, sigmas


def clahe_tiles(side: int, severity: float = 1.0) -> int:
    """CLAHE tiles per axis at ``side`` px and ``severity`` s: 8 at 128 scaled with the side, times √s above s = 1
    (each tile covers 1/s of its area), at least 1 (docs/method.md §8)."""
    return max(1, round(CLAHE_TILES * side / REFERENCE_SIDE * math.sqrt(max(severity, 1.0))))


def jpeg_quality(drawn: np.ndarray, severity: float) -> np.ndarray:
    """JPEG quality at ``severity``: round(q / severity), at least 1 and at most 100."""
    return np.clip(np.rint(np.asarray(drawn) / severity), 1, 100).astype(np.int64)


def _noise(images: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    factor = severity * rng.uniform(*NOISE_STD_RANGE, size=len(images)).astype(np.float32)
    sigma = factor * images.std(axis=(1, 2, 3))
    noise = rng.standard_normal(images.shape, dtype=np.float32)
    return images + sigma[:, None, None, None] * noise


def _blur(images: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    height, width = images.shape[-2:]
    kernels, sigmas = draw_blur_parameters(rng, len(images), min(height, width), severity)
    out = np.empty_like(images)
    for i, image in enumerate(images):
        hwc = np.ascontiguousarray(image.transpose(1, 2, 0))
        k = int(kernels[i])
        blurred = cv2.GaussianBlur(hwc, (k, k), sigmaX=float(sigmas[i]), borderType=cv2.BORDER_REFLECT_101)
        out[i] = blurred.reshape(height, width, -1).transpose(2, 0, 1)
    return out


def _contrast(images: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    clip = severity * rng.uniform(*CLAHE_CLIP_RANGE, size=len(images))
    tiles = clahe_tiles(min(images.shape[-2:]), severity)

    def equalise(hwc: np.ndarray, index: int) -> np.ndarray:
        clahe = cv2.createCLAHE(clipLimit=float(clip[index]), tileGridSize=(tiles, tiles))
        if hwc.shape[2] == 3:
            lab = cv2.cvtColor(hwc, cv2.COLOR_RGB2LAB)
            lab[:, :, 0] = clahe.apply(np.ascontiguousarray(lab[:, :, 0]))
            return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
        return np.stack([clahe.apply(np.ascontiguousarray(hwc[:, :, c])) for c in range(hwc.shape[2])], axis=2)

    return _via_uint8(images, equalise)


def _jpeg(images: np.ndarray, rng: np.random.Generator, severity: float) -> np.ndarray:
    low, high = JPEG_QUALITY_RANGE
    quality = jpeg_quality(rng.integers(low, high + 1, size=len(images)), severity)
    height, width = images.shape[-2:]
    small = (max(1, round(width / severity)), max(1, round(height / severity))) if severity > 1.0 else None

    def compress(hwc: np.ndarray, index: int) -> np.ndarray:
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality[index])]
        if small is not None:
            hwc = cv2.resize(hwc, small, interpolation=cv2.INTER_AREA).reshape(small[1], small[0], -1)
        if hwc.shape[2] == 3:
            out = cv2.cvtColor(_jpeg_round_trip(cv2.cvtColor(hwc, cv2.COLOR_RGB2BGR), params), cv2.COLOR_BGR2RGB)
        else:
            out = np.stack([_jpeg_round_trip(np.ascontiguousarray(hwc[:, :, c]), params) for c in range(hwc.shape[2])],
                           axis=2)
        if small is not None:
            out = cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR).reshape(height, width, -1)
        return out

    return _via_uint8(images, compress)


def _jpeg_round_trip(image: np.ndarray, params: list[int]) -> np.ndarray:
    ok, buffer = cv2.imencode(".jpg", image, params)
    if not ok:
        raise InputError(f"JPEG encoding failed for an image of shape {image.shape}")
    return cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)


def _via_uint8(images: np.ndarray, transform: Callable[[np.ndarray, int], np.ndarray]) -> np.ndarray:
    """Apply ``transform(uint8 H×W×C, image index)`` to a min–max uint8 copy of each image; map the result back."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        low, high = float(image.min()), float(image.max())
        scale = high - low
        hwc = image.transpose(1, 2, 0)
        if scale <= 0.0:
            out[i] = image
            continue
        as_uint8 = np.clip(np.rint((hwc - low) / scale * 255.0), 0, 255).astype(np.uint8)
        result = transform(np.ascontiguousarray(as_uint8), i).reshape(hwc.shape)
        out[i] = (result.astype(np.float32) / 255.0 * scale + low).transpose(2, 0, 1)
    return out


_SHIFTS: dict[str, Callable[[np.ndarray, np.random.Generator, float], np.ndarray]] = {
    "noise": _noise,
    "blur": _blur,
    "contrast": _contrast,
    "jpeg": _jpeg,
}
