"""Stand-ins for the synthetic datasets (same factory options), registered as ``double-lidc`` and ``double-chaksu``.

LIDC-like: one grey channel, 2 classes, 4 annotators, four OOD splits; Chákṣu-like: 3 channels, 3 classes (rim,
cup), 5 annotators, one OOD split. Discs whose radius the annotators disagree on; OOD splits add noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from uqseg.data import Dataset, DatasetInfo, Split, register_dataset

LIDC_OOD = ("ood-noise", "ood-blur", "ood-contrast", "ood-jpeg")


def _discs(rng: np.random.Generator, n: int, size: int, channels: int, classes: int, annotators: int,
           noise: float) -> Split:
    yy, xx = np.mgrid[:size, :size]
    images = np.zeros((n, channels, size, size), np.float32)
    annotations = np.zeros((n, annotators, size, size), np.int64)
    for i in range(n):
        cy, cx = rng.uniform(size * 0.35, size * 0.6, 2)  # centre off the diagonal: not symmetric in y and x
        r = rng.uniform(size * 0.2, size * 0.3)
        dist = np.hypot(yy - cy, (xx - cx) * 1.2)
        for c in range(channels):
            images[i, c] = (dist < r) * (1.0 + 0.5 * c) + (dist < r / 2) * (classes - 2) + rng.normal(0, noise,
                                                                                                        (size, size))
        for k in range(annotators):
            scale = 0.85 + 0.3 * k / max(annotators - 1, 1)
            annotations[i, k] = (dist < r * scale).astype(np.int64)
            if classes == 3:
                annotations[i, k][dist < r * scale / 2] = 2
    oracle = np.stack([(annotations == c).mean(1) for c in range(classes)], 1).astype(np.float32)
    return Split("", images, annotations, oracle)


def _dataset(name: str, channels: int, classes: int, annotators: int, ood: tuple[str, ...], *, image_size: int,
             n_train: int, n_val: int, n_test: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    sizes = {"train": n_train, "val": n_val, "test": n_test, **{s: n_test for s in ood}}
    splits = {}
    for i, (split, n) in enumerate(sizes.items()):
        noise = 0.1 if split in ("train", "val", "test") else 0.4 + 0.1 * i
        made = _discs(rng, n, image_size, channels, classes, annotators, noise)
        made.name = split
        splits[split] = made
    return Dataset(DatasetInfo(name, classes, channels, annotators, (image_size, image_size), ood), splits)


@register_dataset("double-lidc")
def double_lidc(*, cache_dir: Any = None, image_size: int = 16, n_train: int = 16, n_val: int = 8, n_test: int = 8,
                seed: int = 0, ambiguity: float = 1.0) -> Dataset:
    return _dataset("double-lidc", 1, 2, 4, LIDC_OOD, image_size=image_size, n_train=n_train, n_val=n_val,
                    n_test=n_test, seed=seed)


@register_dataset("double-chaksu")
def double_chaksu(*, cache_dir: Any = None, image_size: int = 16, n_train: int = 16, n_val: int = 8, n_test: int = 8,
                  seed: int = 0, ambiguity: float = 1.0) -> Dataset:
    return _dataset("double-chaksu", 3, 3, 5, ("ood",), image_size=image_size, n_train=n_train, n_val=n_val,
                    n_test=n_test, seed=seed)
