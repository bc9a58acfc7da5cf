"""Miniature multi-annotator folders in the exact layout ``uqseg data prepare folder`` reads.

Every image is non-symmetric: pixel (y, x) of image ``i`` is ``image_value(i, y, x)`` (a ramp along x plus a bright
block in the top-left), and rater k's mask of image i marks rows ``top(i, k)`` … 11 and columns 3 … 19 with class
1 and, for three classes, the pixel block rows 20 … 23, columns 24 … 27 with class 2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SIDE = 32


def image_value(i: int, side: int = SIDE) -> np.ndarray:
    """The H×W image i in [0, 1]: a ramp along x, a bright block at rows 2…7, columns 1…5, a per-image offset."""
    y, x = np.mgrid[:side, :side]
    value = 0.1 + 0.5 * x / (side - 1) + 0.02 * (i % 5)
    value[2:8, 1:6] = 0.95
    return np.clip(value, 0, 1) * (y >= 0)


def top(i: int, k: int) -> int:
    return 2 + (i + k) % 4


def mask_value(i: int, k: int, classes: int = 2, side: int = SIDE) -> np.ndarray:
    """Rater k's H×W class map of image i (module docstring)."""
    mask = np.zeros((side, side), dtype=np.uint8)
    mask[top(i, k):12, 3:20] = 1
    if classes > 2:
        mask[20:24, 24:28] = 2
    return mask


def write_image(path: Path, value: np.ndarray, kind: str) -> None:
    """Write an H×W value in [0, 1] as ``kind``: png8, png16, tiff, tiff16, jpeg-rgb, png-rgb, npy, npy-rgb."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "png8":
        Image.fromarray(np.round(value * 255).astype(np.uint8)).save(path.with_suffix(".png"))
    elif kind == "png16":
        Image.fromarray(np.round(value * 65535).astype(np.uint16)).save(path.with_suffix(".png"))
    elif kind == "tiff":
        Image.fromarray(np.round(value * 255).astype(np.uint8)).save(path.with_suffix(".tif"))
    elif kind == "tiff16":
        Image.fromarray(np.round(value * 65535).astype(np.uint16)).save(path.with_suffix(".tiff"))
    elif kind in ("jpeg-rgb", "png-rgb"):
        rgb = np.round(np.stack([value, value * 0.5, 1 - value], -1) * 255).astype(np.uint8)
        Image.fromarray(rgb).save(path.with_suffix(".jpg" if kind == "jpeg-rgb" else ".png"), quality=95)
    elif kind == "npy":
        np.save(path.with_suffix(".npy"), value.astype(np.float32))
    elif kind == "npy-rgb":
        np.save(path.with_suffix(".npy"), np.stack([value, value * 0.5, 1 - value]).astype(np.float32))
    else:
        raise ValueError(kind)


def build_folder(root: Path, *, kinds: tuple[str, ...] = ("png8", "png16", "tiff", "npy"), patients: int = 6,
                 slices: int = 2, raters: tuple[str, ...] = ("r1", "r2", "r3"), classes: int = 2,
                 missing: dict[str, set[int]] | None = None, side: int = SIDE) -> Path:
    """A folder dataset at ``root``: images ``p<j>/s<l>`` (image index i = j·slices + l, format kinds[i % len]),
    masks as PNG; ``missing`` maps a rater to the image indices it did not annotate. Returns ``root``."""
    missing = missing or {}
    i = 0
    for j in range(patients):
        for s in range(slices):
            sample = f"p{j}/s{s}"
            write_image(root / "images" / sample, image_value(i, side), kinds[i % len(kinds)])
            for k, rater in enumerate(raters):
                if i in missing.get(rater, set()):
                    continue
                path = root / "annotations" / rater / f"{sample}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(mask_value(i, k, classes, side)).save(path)
            i += 1
    return root


def sample_index(sample_id: str, slices: int = 2) -> int:
    """The image index i of id ``p<j>/s<l>``."""
    patient, _, part = sample_id.partition("/")
    return int(patient[1:]) * slices + int(part[1:])
