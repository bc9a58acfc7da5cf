"""A user's own image for ``uqseg predict``: read PNG/JPG/NPY safely and bring it to a model's input.

The image is scaled to [0, 1] (8/16-bit images by their type's range, float arrays as given), given the model's
channel count (grey made 3 channels, docs/method.md §4; RGB(A) kept or rejected), resized bilinearly to the model's
square input size and normalised (``dataset``: matched to the per-channel mean and std of the training images,
whatever normalisation the data layer used; ``standardise``: zero mean, unit std per image and channel, as for
Chákṣu, docs/method.md §7; ``none``). Layout B×C×H×W, row = y (docs/method.md §9.1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from uqseg.errors import InputError

NORMALISATIONS = ("dataset", "standardise", "none")


def read_image(path: Path) -> np.ndarray:
    """H×W×C float32 in [0, 1] (float NPY arrays unchanged) from a PNG, JPG or NPY file; InputError if unreadable."""
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
                array = np.asarray(img)
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
        array = array[..., None]
    if array.ndim != 3 or min(array.shape[:2]) < 2:
        raise InputError(f"image {path} has shape {array.shape}; expected H×W or H×W×C")
    if not np.isfinite(array).all():
        raise InputError(f"image {path} holds NaN or inf values")
    return array


def to_model_input(
    image: np.ndarray, *, in_channels: int, size: int, normalise: str = "standardise",
    stats: tuple[np.ndarray, np.ndarray] | None = None,
) -> torch.Tensor:
    """1×C×size×size float32 tensor from an H×W×C image; ``stats`` (per-channel mean, std) for ``dataset``."""
    if normalise not in NORMALISATIONS:
        raise InputError(f"unknown normalisation {normalise!r}; choose one of {', '.join(NORMALISATIONS)}")
    channels = image.shape[2]
    if channels == 4:
        image, channels = image[..., :3], 3
    if channels != in_channels:
        if channels == 1:
            image = np.repeat(image, in_channels, axis=2)
        elif channels == 3 and in_channels == 1:
            image = image.mean(2, keepdims=True)
        else:
            raise InputError(f"image has {channels} channels; the model expects {in_channels}")
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    if normalise == "standardise":
        x = (x - x.mean((2, 3), keepdim=True)) / x.std((2, 3), keepdim=True).clamp_min(1e-6)
    elif normalise == "dataset":
        if stats is None:
            raise InputError("normalisation 'dataset' needs the dataset's channel statistics")
        mean, std = (torch.as_tensor(np.asarray(v, np.float32)).reshape(1, -1, 1, 1) for v in stats)
        x = (x - x.mean((2, 3), keepdim=True)) / x.std((2, 3), keepdim=True).clamp_min(1e-6) * std + mean
    return x.float()


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
