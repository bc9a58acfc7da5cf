"""Qualitative panels (paper Fig. 5/6): for a few ID and OOD test images, the image, the annotators, AU samples and
the TU/AU/EU maps of one combination, with one uncertainty colour scale per row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import matplotlib
import numpy as np
from matplotlib import colors
from matplotlib.patches import Patch

from uqseg.data import Split
from uqseg.errors import InputError
from uqseg.metrics import annotator_variance
from uqseg.report.figures.style import new_figure, save
from uqseg.store import read_attrs

MAPS = ("tu", "au", "eu")
LABEL_CMAP = "viridis"
UNC_CMAP = "magma"


@dataclass
class PanelRow:
    """One image of one split: what the predictions file holds for it and, when the data could be opened, the
    image and the annotators."""

    title: str
    maps: dict[str, np.ndarray]
    samples: np.ndarray
    samples_are_mean: bool
    image: np.ndarray | None
    annotations: np.ndarray | None


def read_rows(path: Path, split: Split | None, n_images: int, n_samples: int) -> list[PanelRow]:
    """`n_images` images of a complete predictions file (`uqseg.store` layout) with their stored AU samples
    (k×S×C×H×W, the first k images; only those k are candidates), or the mean prediction when k = 0. With the split
    given, the candidates whose annotators disagree most (summed annotator variance, docs/method.md §3) are shown."""
    attrs = read_attrs(path)
    name = str(attrs.get("split", path.stem))
    rows = []
    with h5py.File(path, "r") as f:
        stored = f["samples"] if "samples" in f and f["samples"].shape[0] * f["samples"].shape[1] > 0 else None
        if split is not None and len(split) != f["tu"].shape[0]:
            raise InputError(f"{path} holds {f['tu'].shape[0]} images but split {name!r} has {len(split)}")
        candidates = min(f["tu"].shape[0], stored.shape[0] if stored is not None else n_images)
        for i in most_ambiguous(split, candidates, n_images):
            smp = np.asarray(stored[i, :n_samples] if stored is not None else f["mean"][i:i + 1], dtype=np.float32)
            image = annotations = None
            if split is not None:
                item = split[i]
                image, annotations = item["image"], item["annotations"]
                if annotations.shape[-2:] != f["tu"].shape[-2:]:
                    raise InputError(f"{path}: maps are {f['tu'].shape[-2:]} but split {name!r} images are "
                                     f"{annotations.shape[-2:]}")
            maps = {m: np.asarray(f[m][i], dtype=np.float32) for m in MAPS}
            rows.append(PanelRow(f"{name} #{i}", maps, smp, stored is None, image, annotations))
    return rows


def most_ambiguous(split: Split | None, candidates: int, n: int) -> list[int]:
    """The `n` of the first `candidates` images with the largest summed annotator variance, in index order (ties and
    no split: the first ones)."""
    if split is None or candidates <= n:
        return list(range(min(candidates, n)))
    score = [float(annotator_variance(split[i]["annotations"]).sum()) for i in range(candidates)]
    return sorted(sorted(range(candidates), key=lambda i: -score[i])[:n])


def display_image(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """An image C×H×W for imshow: grey for one channel, RGB for three (each min–max scaled), else channel 0."""
    x = image[:3] if image.shape[0] == 3 else image[:1]
    lo, hi = np.nanmin(x), np.nanmax(x)
    x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    return (x.transpose(1, 2, 0), None) if x.shape[0] == 3 else (x[0], "gray")


def expected_label(probs: np.ndarray) -> np.ndarray:
    """Σ_c c·p_c of a C×H×W probability map: the foreground probability for two classes, soft labels for more."""
    return np.tensordot(np.arange(probs.shape[0], dtype=np.float32), probs, axes=(0, 0))


def plot_qualitative(rows: list[PanelRow], num_classes: int, out_dir: Path, name: str, title: str) -> Path:
    """One row per image: image | annotators | samples | TU | AU | EU. Annotators and samples share the label
    scale 0…C−1 (samples as expected label Σ c·p_c); TU, AU and EU share one colour scale per row (nats)."""
    k = max((r.annotations.shape[0] for r in rows if r.annotations is not None), default=0)
    s = max(r.samples.shape[0] for r in rows)
    ncols = 1 + k + s + len(MAPS)
    fig, axes = new_figure(len(rows), ncols, 1.35 * ncols + 1.0, 1.45 * len(rows) + 0.9)
    label_norm = colors.Normalize(0, max(num_classes - 1, 1))
    for i, row in enumerate(rows):
        ax = axes[i]
        if row.image is not None:
            img, cmap = display_image(row.image)
            ax[0].imshow(img, cmap=cmap, interpolation="nearest")
        else:
            ax[0].text(0.5, 0.5, "image\nunavailable", ha="center", va="center", fontsize=7, transform=ax[0].transAxes)
        ax[0].set_ylabel(row.title, fontsize=8)
        for j in range(k):
            if row.annotations is not None and j < row.annotations.shape[0]:
                ax[1 + j].imshow(row.annotations[j], cmap=LABEL_CMAP, norm=label_norm, interpolation="nearest")
        for j in range(s):
            if j < row.samples.shape[0]:
                ax[1 + k + j].imshow(expected_label(row.samples[j]), cmap=LABEL_CMAP, norm=label_norm,
                                     interpolation="nearest")
        vmax = max(float(np.nanmax(row.maps[m])) for m in MAPS)
        norm = colors.Normalize(0, vmax if vmax > 0 else 1)
        im = None
        for j, m in enumerate(MAPS):
            im = ax[1 + k + s + j].imshow(row.maps[m], cmap=UNC_CMAP, norm=norm, interpolation="nearest")
        cb = fig.colorbar(im, ax=list(ax[1 + k + s:]), shrink=0.9, pad=0.02, aspect=12)
        cb.set_label("nats", fontsize=7)
        cb.ax.tick_params(labelsize=6)
        for a in ax:
            a.set_xticks([])
            a.set_yticks([])
            a.grid(False)
    smp = ["mean prediction"] if all(r.samples_are_mean for r in rows) else [f"sample {j + 1}" for j in range(s)]
    heads = ["image", *(f"annotator {j + 1}" for j in range(k)), *smp,
             "TU", "AU", "EU"]
    for a, h in zip(axes[0], heads, strict=True):
        a.set_title(h, fontsize=8)
    cmap = matplotlib.colormaps[LABEL_CMAP]
    classes = [Patch(color=cmap(label_norm(c)), label=f"class {c}" + (" (background)" if c == 0 else ""))
               for c in range(num_classes)]
    fig.legend(handles=classes, loc="outside lower center", ncols=num_classes, frameon=False, fontsize=7,
               title="annotators and samples (samples: expected class Σ c·p_c)", title_fontsize=7)
    fig.suptitle(title, fontsize=9)
    return save(fig, out_dir, name)
