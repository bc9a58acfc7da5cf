"""``uqseg data show``: a PNG grid of a dataset's test images, every annotator, the oracle variance and the OOD splits.

Each row is one test image: the image, each annotator's mask, the oracle variance ``Σ_c p_c (1 − p_c)`` (the
expected disagreement of a random annotator's one-hot label with the mean, 0 where all annotators must agree) and
one image of every OOD split: the same image under each shift where the OOD split is a shifted copy of the test
set, else images spread evenly over the split (so that each device of a Chákṣu-like OOD split appears). An OOD
column's title carries the split's shift severity where the split records one (``meta["severity"]``, synthetic data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from uqseg.atomic import atomic_path
from uqseg.data.contract import Dataset, get_dataset
from uqseg.errors import ConfigError

CLASS_COLOURS = ["#000000", "#f2c14e", "#3fa7d6", "#e4572e", "#59cd90"]
PANEL_INCHES = 1.3


def oracle_variance(oracle: np.ndarray) -> np.ndarray:
    """``Σ_c p_c (1 − p_c)`` over the class axis (third from the end) of an oracle …×C×H×W."""
    return np.sum(oracle * (1.0 - oracle), axis=-3)


def display_image(image: np.ndarray) -> np.ndarray:
    """A C×H×W image as H×W (grey) or H×W×3 in [0, 1], min–max scaled for display."""
    low, high = float(image.min()), float(image.max())
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return scaled[0] if scaled.shape[0] == 1 else np.transpose(scaled[:3], (1, 2, 0))


def show_dataset(name: str, out: Path | str, n: int = 4, cache_dir: Path | str | None = None, seed: int = 0,
                 root: Path | str | None = None) -> Path:
    """Write the preview grid of dataset ``name`` to ``out`` (PNG) and return its path.

    Synthetic datasets are generated with their defaults and ``seed`` (cached in ``cache_dir``); prepared real
    datasets are read from ``root``.
    """
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    options: dict[str, Any] = {"root": root} if root is not None else {"seed": seed, "cache_dir": cache_dir}
    return write_grid(get_dataset(name, **options), Path(out), n)


def ood_title(dataset: Dataset, split: str) -> str:
    """The column title of OOD split ``split``: its name, and its shift severity if the split records one."""
    severity = dataset.split(split).meta.get("severity")
    return split if severity is None else f"{split}\nseverity {float(severity):g}"


def write_grid(dataset: Dataset, out: Path, n: int) -> Path:
    """Draw the grid of ``dataset``'s first ``n`` test images into ``out`` atomically."""
    test = dataset.split("test")
    n = min(n, len(test))
    info = dataset.info
    columns = ["image"] + [f"annotator {k + 1}" for k in range(info.num_annotators)] + ["oracle variance"]
    columns += [ood_title(dataset, split) for split in info.ood_splits]
    figure = Figure(figsize=(PANEL_INCHES * len(columns), PANEL_INCHES * n + 0.4))
    axes = figure.subplots(n, len(columns), squeeze=False)
    labels = ListedColormap(CLASS_COLOURS[: info.num_classes])
    for row in range(n):
        sample = test[row]
        panels: list[tuple[np.ndarray, dict[str, Any]]] = [(display_image(sample["image"]), {"cmap": "gray"})]
        panels += [(mask, {"cmap": labels, "vmin": 0, "vmax": info.num_classes - 1}) for mask in sample["annotations"]]
        variance = oracle_variance(sample["oracle"]) if "oracle" in sample else np.zeros(sample["image"].shape[1:])
        panels.append((variance, {"cmap": "magma", "vmin": 0.0, "vmax": 1.0 - 1.0 / info.num_classes}))
        for split in info.ood_splits:
            ood = dataset.split(split)
            index = row if ood.annotations is test.annotations else row * len(ood) // n
            panels.append((display_image(ood[index]["image"]), {"cmap": "gray"}))
        for column, (axis, (picture, style)) in enumerate(zip(axes[row], panels, strict=True)):
            axis.imshow(picture, interpolation="nearest", **style)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(columns[column], fontsize=7)
    figure.suptitle(f"{info.name}: test images, annotators, oracle variance, OOD", fontsize=9)
    figure.tight_layout()
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    return out
