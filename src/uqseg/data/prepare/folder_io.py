"""Reading one image or mask file of a plain folder dataset, and bringing it to the prepared square size.

Images (docs/datasets.md, "Any multi-annotator folder"): PNG, JPEG, TIFF, BMP in any Pillow mode, or ``.npy``
(H×W or C×H×W). Pixel order as stored (row = y, no EXIF rotation). Grey modes (1, L, LA) give one channel, 16-bit
(I;16, I) and float (F) one channel, every other mode RGB (alpha dropped). Integer images are scaled to [0, 1] by
their type's range (8-bit by 255, 16-bit by 65535), float images are kept as they are.

Masks hold class indices, one channel: Pillow modes 1, L, P (palette indices), I;16, I, or an integer H×W ``.npy``.

Resizing (docs/method.md §8, "resize to 128×128: image bilinear, label maps nearest"): ``crop`` takes the centred
square of the shorter side, ``pad`` pads the longer side's square with zeros (image) and class 0 (masks), ``stretch``
resizes as it is; then images are resized bilinearly (Pillow, per channel in float) and masks by nearest neighbour.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from uqseg.data.prepare.common import ABSENT_STORED
from uqseg.errors import InputError

IMAGE_TYPES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy"})
GREY_MODES = ("1", "L", "LA", "La")
MASK_MODES = ("1", "L", "P", "I;16", "I;16B", "I;16L", "I")
Rule = Literal["crop", "pad", "stretch"]


def _load(path: Path) -> tuple[np.ndarray | Image.Image, str]:
    """The file's content (an array for ``.npy``, a loaded Pillow image otherwise) and its SHA-256."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err})") from None
    digest = hashlib.sha256(data).hexdigest()
    if path.suffix.lower() == ".npy":
        try:
            return np.load(io.BytesIO(data), allow_pickle=False), digest
        except (ValueError, OSError, EOFError) as err:
            raise InputError(f"{path}: not a readable NumPy array ({err})") from None
    try:
        picture = Image.open(io.BytesIO(data))
        picture.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise InputError(f"{path}: not a readable image ({err})") from None
    return picture, digest


def _scaled(array: np.ndarray, path: Path) -> np.ndarray:
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        if info.min < 0 and array.size and array.min() < 0:
            raise InputError(f"{path}: negative integer pixels; store signed data as float")
        return (array.astype(np.float64) / (255 if info.max <= 255 else 65535 if info.max <= 65535 else info.max)
                ).astype(np.float32)
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(f"{path}: unsupported pixel type {array.dtype}")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise InputError(f"{path}: holds NaN or inf")
    return array


def read_image(path: Path) -> tuple[np.ndarray, str]:
    """A C×H×W float32 image (module docstring) and its file's SHA-256."""
    content, digest = _load(path)
    if isinstance(content, np.ndarray):
        array = content[None] if content.ndim == 2 else content
        if array.ndim != 3 or min(array.shape) == 0:
            raise InputError(f"{path}: a .npy image must be H×W or C×H×W, got shape {content.shape}")
    elif content.mode in GREY_MODES:
        array = np.asarray(content.convert("L"))[None]
    elif content.mode == "F":
        array = np.asarray(content, dtype=np.float32)[None]
    elif content.mode == "I" or content.mode.startswith("I;16"):
        array = np.asarray(content).astype(np.int64)
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise InputError(f"{path}: mode {content.mode} pixels outside 0…65535")
        array = array.astype(np.uint16)[None]
    else:
        array = np.asarray(content.convert("RGBA" if content.mode in ("P", "PA") else content.mode)
                           .convert("RGB")).transpose(2, 0, 1)
    return _scaled(np.ascontiguousarray(array), path), digest


def read_mask(path: Path, label_values: dict[int, int] | None, num_classes: int | None) -> tuple[np.ndarray, str]:
    """An H×W int64 class-index map and its file's SHA-256. ``label_values`` maps stored values to classes (a value
    it lacks is an error); with ``num_classes`` a label outside 0…num_classes−1 is an error naming the file."""
    content, digest = _load(path)
    if isinstance(content, np.ndarray):
        if content.ndim != 2 or not (np.issubdtype(content.dtype, np.integer) or content.dtype == np.bool_):
            raise InputError(f"{path}: a .npy mask must be an H×W integer array, got {content.dtype} {content.shape}")
        values = content.astype(np.int64)
    elif content.mode in MASK_MODES:
        values = np.asarray(content).astype(np.int64)
    else:
        raise InputError(f"{path}: a mask must be one channel of class indices (modes {', '.join(MASK_MODES)}), "
                         f"got mode {content.mode}")
    if label_values is not None:
        stored = np.unique(values)
        unknown = [int(v) for v in stored if int(v) not in label_values]
        if unknown:
            raise InputError(f"{path}: mask values {unknown[:5]} are not in label_values of dataset.yaml")
        lookup = np.zeros(int(stored.max()) + 1, dtype=np.int64)
        for value, label in label_values.items():
            if 0 <= value < lookup.size:
                lookup[value] = label
        values = lookup[values]
    if values.size and values.min() < 0:
        raise InputError(f"{path}: negative label {int(values.min())}")
    top = int(values.max()) if values.size else 0
    if num_classes is not None and top >= num_classes:
        raise InputError(f"{path}: label {top} is beyond the {num_classes} declared classes 0…{num_classes - 1}")
    if top >= ABSENT_STORED:
        raise InputError(f"{path}: label {top}; class indices must lie below {ABSENT_STORED}")
    return values, digest


def _square(array: np.ndarray, rule: Rule) -> np.ndarray:
    """The centred square crop (``crop``) or zero-padded square (``pad``) of a …×H×W array; ``stretch``: as is."""
    h, w = array.shape[-2:]
    if rule == "stretch" or h == w:
        return array
    if rule == "crop":
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        return array[..., top:top + side, left:left + side]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    out = np.zeros((*array.shape[:-2], side, side), dtype=array.dtype)
    out[..., top:top + h, left:left + w] = array
    return out


def fit_image(image: np.ndarray, size: int, rule: Rule) -> np.ndarray:
    """A C×H×W float32 image brought to C×size×size: square by ``rule``, then bilinear per channel."""
    square = _square(image, rule)
    if square.shape[-2:] == (size, size):
        return np.ascontiguousarray(square, dtype=np.float32)
    return np.stack([np.asarray(Image.fromarray(channel.astype(np.float32))
                                .resize((size, size), Image.Resampling.BILINEAR)) for channel in square])


def fit_mask(mask: np.ndarray, size: int, rule: Rule) -> np.ndarray:
    """An H×W class map brought to size×size: square by ``rule``, then nearest neighbour; uint8."""
    square = _square(mask, rule).astype(np.uint8)
    if square.shape == (size, size):
        return np.ascontiguousarray(square)
    return np.asarray(Image.fromarray(square).resize((size, size), Image.Resampling.NEAREST))
