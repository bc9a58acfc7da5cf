"""The four LIDC distribution shifts (SPEC §8): additive noise, Gaussian blur, CLAHE contrast and JPEG.

``apply_shift(images, name, seed)`` takes float images N×H×W (grey) or N×C×H×W and returns float32 of the same
shape. One RNG is made per call from ``seed``; every image draws its own parameters from it, in image order, so the
result is deterministic given the seed and the whole array (call it once per split, not per batch).

- ``noise``: x + σ·ε with σ ~ U[0.1, 0.5] · std(x) (the std over all of the image's channels and pixels).
- ``blur``: OpenCV Gaussian blur with σ ~ U[0.05, 0.2] · side (σ_x = f·W, σ_y = f·H, one f per image),
  reflected borders.
- ``contrast``: CLAHE with clip limit 5 and 8×8 tiles.
- ``jpeg``: JPEG round trip at quality ~ U{10, …, 20} (OpenCV's encoder, 4:2:0 chroma for colour).

CLAHE and JPEG work on a per-image min–max uint8 copy that is mapped back to the image's original [min, max] range
(a constant image is returned unchanged). Colour (C = 3, RGB order): CLAHE equalises the L channel of CIE LAB and
JPEG compresses the image as colour. Other channel counts: CLAHE and JPEG treat each channel as a grey image.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from uqseg.errors import ConfigError, InputError

SHIFT_NAMES = ("noise", "blur", "contrast", "jpeg")
NOISE_STD_RANGE = (0.1, 0.5)
BLUR_SIGMA_RANGE = (0.05, 0.2)
CLAHE_CLIP_LIMIT = 5.0
CLAHE_TILES = (8, 8)
JPEG_QUALITY_RANGE = (10, 20)


def apply_shift(images: np.ndarray, name: str, seed: int) -> np.ndarray:
    """Apply the SPEC §8 shift ``name`` to every image of ``images`` (N×H×W or N×C×H×W); float32, same shape."""
    if name not in _SHIFTS:
        raise ConfigError(f"unknown shift {name!r}; known shifts: {', '.join(SHIFT_NAMES)}")
    array = np.asarray(images, dtype=np.float32)
    if array.ndim not in (3, 4):
        raise InputError(f"shift {name!r}: images must be N×H×W or N×C×H×W, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(f"shift {name!r}: images contain NaN or inf")
    chw = array[:, None] if array.ndim == 3 else array
    rng = np.random.default_rng(seed)
    out = _SHIFTS[name](chw, rng)
    return np.ascontiguousarray(out.reshape(array.shape), dtype=np.float32)


def _noise(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    factor = rng.uniform(*NOISE_STD_RANGE, size=len(images)).astype(np.float32)
    sigma = factor * images.std(axis=(1, 2, 3))
    noise = rng.standard_normal(images.shape, dtype=np.float32)
    return images + sigma[:, None, None, None] * noise


def _blur(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    factor = rng.uniform(*BLUR_SIGMA_RANGE, size=len(images))
    height, width = images.shape[-2:]
    out = np.empty_like(images)
    for i, image in enumerate(images):
        hwc = np.ascontiguousarray(image.transpose(1, 2, 0))
        blurred = cv2.GaussianBlur(hwc, (0, 0), sigmaX=float(factor[i] * width), sigmaY=float(factor[i] * height),
                                   borderType=cv2.BORDER_REFLECT_101)
        out[i] = blurred.reshape(height, width, -1).transpose(2, 0, 1)
    return out


def _contrast(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP_LIMIT, tileGridSize=CLAHE_TILES)

    def equalise(hwc: np.ndarray, index: int) -> np.ndarray:
        if hwc.shape[2] == 3:
            lab = cv2.cvtColor(hwc, cv2.COLOR_RGB2LAB)
            lab[:, :, 0] = clahe.apply(np.ascontiguousarray(lab[:, :, 0]))
            return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
        return np.stack([clahe.apply(np.ascontiguousarray(hwc[:, :, c])) for c in range(hwc.shape[2])], axis=2)

    return _via_uint8(images, equalise)


def _jpeg(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    low, high = JPEG_QUALITY_RANGE
    quality = rng.integers(low, high + 1, size=len(images))

    def compress(hwc: np.ndarray, index: int) -> np.ndarray:
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality[index])]
        if hwc.shape[2] == 3:
            return cv2.cvtColor(_jpeg_round_trip(cv2.cvtColor(hwc, cv2.COLOR_RGB2BGR), params), cv2.COLOR_BGR2RGB)
        return np.stack([_jpeg_round_trip(np.ascontiguousarray(hwc[:, :, c]), params) for c in range(hwc.shape[2])],
                        axis=2)

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


_SHIFTS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "noise": _noise,
    "blur": _blur,
    "contrast": _contrast,
    "jpeg": _jpeg,
}
