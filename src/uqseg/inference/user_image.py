"""A user's own image for ``uqseg predict``: read PNG/JPG/NPY safely and bring it to a model's input.

Layout C×H×W, row = y (docs/method.md §9.1), for a ``.npy`` file too (H×W is one grey channel). Every Pillow mode
is converted explicitly: 1, L, LA, La → one grey channel; I;16 and I (0…65535) and F (as given) → one channel;
everything else (P, PA, RGB, RGBA, CMYK, LAB, YCbCr, …) → RGB, alpha dropped. The image is scaled to [0, 1]
(8/16-bit images by their type's range, float arrays as given), given the model's channel count (grey repeated,
RGB averaged to grey, docs/method.md §4), resized bilinearly keeping its aspect ratio so that its longer side is
the model's input size, normalised over its own pixels (``dataset``: matched to the per-channel mean and std of the
training images, whatever normalisation the data layer used; ``standardise``: zero mean, unit std per channel, as
for Chákṣu, docs/method.md §7; ``none``), and padded to a square by repeating its edge pixels. ``to_image_size``
takes maps in the model's frame back to the image's own H×W.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from uqseg.errors import InputError

NORMALISATIONS = ("dataset", "standardise", "none")
GREY_MODES = ("1", "L", "LA", "La")


@dataclass(frozen=True)
class Placement:
    """Where the image lies in the model's square input: rows top…top+height, columns left…left+width; its own
    size is image_height × image_width."""

    top: int
    left: int
    height: int
    width: int
    image_height: int
    image_width: int


def _pil_channels(img: Any, path: Path) -> np.ndarray:
    """C×H×W array (1 grey or 3 RGB channels) of a Pillow image, by its mode; 16-bit modes as uint16."""
    mode = img.mode
    if mode in GREY_MODES:
        return np.asarray(img.convert("L"))[None]
    if mode == "F":
        return np.asarray(img, dtype=np.float32)[None]
    if mode == "I" or mode.startswith("I;16"):
        array = np.asarray(img)
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise InputError(f"image {path}: mode {mode} pixels outside 0…65535")
        return array.astype(np.uint16)[None]
    if mode in ("P", "PA"):
        img = img.convert("RGBA")
    return np.asarray(img.convert("RGB")).transpose(2, 0, 1)


def read_image(path: Path) -> np.ndarray:
    """C×H×W float32 in [0, 1] (float arrays unchanged) from a PNG, JPG or other Pillow image, or an H×W or C×H×W
    NPY file; InputError if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image file {path} does not exist")
    if path.suffix.lower() == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise InputError(f"cannot read {path} as a NumPy array: {err}") from None
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                array = _pil_channels(img, path)
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise InputError(f"cannot read image {path}: {err}") from None
    if array.dtype == np.bool_:
        array = array.astype(np.float32)
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise InputError(f"image {path} has unsupported dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.integer):
        array = array.astype(np.float32) / float(np.iinfo(array.dtype).max)
    array = array.astype(np.float32)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or min(array.shape[1:]) < 2:
        raise InputError(f"image {path} has shape {array.shape}; expected H×W or C×H×W")
    if not np.isfinite(array).all():
        raise InputError(f"image {path} holds NaN or inf values")
    return array


def to_model_input(
    image: np.ndarray, *, in_channels: int, size: int, normalise: str = "standardise",
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[torch.Tensor, Placement]:
    """1×C×size×size float32 tensor from a C×H×W image, and where the image lies in it (aspect ratio kept, edge
    pixels repeated around it); ``stats`` (per-channel mean, std) for ``dataset``."""
    if normalise not in NORMALISATIONS:
        raise InputError(f"unknown normalisation {normalise!r}; choose one of {', '.join(NORMALISATIONS)}")
    if normalise == "dataset" and stats is None:
        raise InputError("normalisation 'dataset' needs the dataset's channel statistics")
    channels, h, w = image.shape
    if channels == 4:
        image, channels = image[:3], 3
    if channels != in_channels:
        if channels == 1:
            image = np.repeat(image, in_channels, axis=0)
        elif channels == 3 and in_channels == 1:
            image = image.mean(0, keepdims=True)
        else:
            raise InputError(f"image has {channels} channels (a .npy image is read as C×H×W); the model expects "
                             f"{in_channels}")
    scale = size / max(h, w)
    rows, cols = max(1, round(h * scale)), max(1, round(w * scale))
    x = torch.from_numpy(np.ascontiguousarray(image))[None]
    x = F.interpolate(x, size=(rows, cols), mode="bilinear", align_corners=False)
    if normalise != "none":
        x = (x - x.mean((2, 3), keepdim=True)) / x.std((2, 3), keepdim=True).clamp_min(1e-6)
    if normalise == "dataset":
        mean, std = (torch.as_tensor(np.asarray(v, np.float32)).reshape(1, -1, 1, 1) for v in stats)  # type: ignore[union-attr]
        x = x * std + mean
    top, left = (size - rows) // 2, (size - cols) // 2
    x = F.pad(x, (left, size - cols - left, top, size - rows - top), mode="replicate")
    return x.float(), Placement(top, left, rows, cols, h, w)


def to_image_size(maps: Any, placement: Placement) -> Any:
    """Maps …×size×size in the model's frame cropped to the image and resized bilinearly to its H×W (same type)."""
    t = torch.as_tensor(maps)
    lead = t.shape[:-2]
    crop = t[..., placement.top:placement.top + placement.height, placement.left:placement.left + placement.width]
    out = F.interpolate(crop.reshape(1, -1, *crop.shape[-2:]).float(), mode="bilinear", align_corners=False,
                        size=(placement.image_height, placement.image_width))
    out = out.reshape(*lead, placement.image_height, placement.image_width).to(t.dtype)
    return out if isinstance(maps, torch.Tensor) else out.numpy()


def channel_stats(images: object, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of an N×C×H×W array-like, read in chunks."""
    n = int(images.shape[0])  # type: ignore[attr-defined]
    if n == 0:
        raise InputError("cannot take channel statistics of an empty split")
    total = total_sq = 0.0
    count = 0
    for start in range(0, n, batch):
        chunk = np.asarray(images[start:start + batch], dtype=np.float64)  # type: ignore[index]
        total = total + chunk.sum((0, 2, 3))
        total_sq = total_sq + (chunk**2).sum((0, 2, 3))
        count += chunk.shape[0] * chunk.shape[2] * chunk.shape[3]
    mean = total / count
    return mean, np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
