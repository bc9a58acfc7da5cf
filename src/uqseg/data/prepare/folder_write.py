"""Writing a multi-annotator dataset of any origin (a plain folder, QUBIQ) into the prepared format.

Shared by ``uqseg data prepare folder`` and ``uqseg data prepare qubiq`` (docs/datasets.md). Every image is read
by the caller's loader (image C×H×W float, one H×W class map or None per rater), checked (mask and image sizes
agree, the same channel count everywhere, a common square size unless a size is given), brought to the square size
(:mod:`uqseg.data.prepare.folder_io`) and written; an absent rater is stored as 255 and read back as
``uqseg.data.contract.ABSENT``. Without real OOD sets, the test split is copied once per shift of
``uqseg.data.shifts`` (seed 7, as for LIDC, docs/method.md §8), keeping the test annotations.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from uqseg.data.prepare.common import ABSENT_STORED, PreparedWriter, progress_bar, write_manifest
from uqseg.data.prepare.folder_io import Rule, fit_image, fit_mask
from uqseg.data.prepare.folder_layout import Sample
from uqseg.data.prepared import open_prepared
from uqseg.data.shifts import apply_shift
from uqseg.errors import InputError

OOD_SEED = 7
Loaded = tuple[np.ndarray, list[np.ndarray | None], list[str]]
Loader = Callable[[Sample], Loaded]


@dataclass(frozen=True)
class Plan:
    """What to write: the splits' samples, the raters, the geometry, the classes, the OOD source."""

    name: str
    splits: dict[str, list[Sample]]
    raters: tuple[str, ...]
    size: int | None
    rule: Rule
    normalisation: str
    class_names: tuple[str, ...] | None
    shifts: dict[str, float]
    source_format: str


class _Geometry:
    """Fixes the channel count and square size from the first image and holds every later image to them."""

    def __init__(self, size: int | None, rule: Rule):
        self.size, self.rule, self.declared = size, rule, size is not None
        self.channels: int | None = None
        self.first: Path | None = None

    def fit(self, sample: Sample, image: np.ndarray, masks: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
        for mask, path in zip(masks, sample.masks, strict=True):
            if mask is not None and mask.shape != image.shape[1:]:
                raise InputError(f"{path}: size {mask.shape[0]}×{mask.shape[1]} differs from its image "
                                 f"{sample.image} ({image.shape[1]}×{image.shape[2]})")
        if self.channels is None:
            self.channels, self.first = image.shape[0], sample.image
            if self.size is None:
                if image.shape[1] != image.shape[2]:
                    raise InputError(f"{sample.image}: {image.shape[1]}×{image.shape[2]} is not square; set size "
                                     "(and resize) in dataset.yaml")
                self.size = image.shape[1]
        if image.shape[0] != self.channels:
            raise InputError(f"{sample.image}: {image.shape[0]} channel(s), but {self.first} has {self.channels}")
        if not self.declared and image.shape[1:] != (self.size, self.size):
            raise InputError(f"{sample.image}: size {image.shape[1]}×{image.shape[2]} differs from {self.first} "
                             f"({self.size}×{self.size}); set size (and resize) in dataset.yaml, or --size for QUBIQ")
        size = int(self.size)
        labels = np.full((len(masks), size, size), ABSENT_STORED, dtype=np.uint8)
        for k, mask in enumerate(masks):
            if mask is not None:
                labels[k] = fit_mask(mask, size, self.rule)
        return fit_image(image, size, self.rule), labels


def write_plan(tmp: Path, plan: Plan, ood: dict[str, list[Sample]], load: Loader, *, progress: bool,
               extra: dict[str, Any], source_name: str) -> dict[str, Any]:
    """Write ``plan`` (and the real OOD sets ``ood``, else the shifted test copies) into ``tmp``; return the
    manifest after reopening the result with every label checked."""
    geometry = _Geometry(plan.size, plan.rule)
    digest = hashlib.sha256()
    per_image: dict[str, dict[str, int]] = {}
    writer = PreparedWriter(tmp)
    try:
        with progress_bar(progress) as bar:
            test: tuple[np.ndarray, np.ndarray, list[str], list[str]] | None = None
            for name, samples in {**plan.splits, **ood}.items():
                images, labels, counts = _write_split(writer, name, samples, load, geometry, digest, bar)
                per_image[name] = {str(k): n for k, n in sorted(counts.items())}
                if name == "test" and not ood:
                    test = (images, labels, [s.id for s in samples], [s.group for s in samples])
            if test is not None:
                for shift, severity in plan.shifts.items():
                    _write_copy(writer, f"ood-{shift}", apply_shift(test[0], shift, seed=OOD_SEED,
                                                                    severity=severity), *test[1:])
                    per_image[f"ood-{shift}"] = per_image["test"]
    finally:
        writer.close()
    channels = int(geometry.channels or 0)
    num_classes = len(plan.class_names) if plan.class_names else max(2, max(writer.max_label.values()) + 1)
    if plan.normalisation == "imagenet" and channels not in (1, 3):
        raise InputError(f"normalisation imagenet needs grey or RGB images; {geometry.first} has {channels} channels")
    facts = {
        "num_classes": num_classes,
        "num_annotators": len(plan.raters),
        "stored_channels": channels,
        "in_channels": 3 if plan.normalisation == "imagenet" else channels,
        "normalisation": plan.normalisation,
        "class_names": list(plan.class_names or [f"class {c}" for c in range(num_classes)]),
        "image_size": [geometry.size, geometry.size],
        "source_format": plan.source_format,
    }
    more = {"raters": list(plan.raters), "annotators_per_image": per_image,
            "resize": {"size": geometry.size, "rule": plan.rule},
            "ood": "real OOD sets" if ood else {"shifts": plan.shifts, "seed": OOD_SEED}, **extra}
    files = sum(1 + sum(m is not None for m in s.masks) for part in (plan.splits, ood) for v in part.values()
                for s in v)
    manifest = write_manifest(tmp, plan.name, facts, writer, [{"name": source_name, "files": files,
                                                                "sha256": digest.hexdigest()}], more)
    open_prepared(tmp, plan.name, verify=True)
    return manifest


def _write_split(writer: PreparedWriter, name: str, samples: list[Sample], load: Loader, geometry: _Geometry,
                 digest: Any, bar: Any) -> tuple[np.ndarray, np.ndarray, Counter[int]]:
    """Write one split image by image; return its images and labels (test only: for the shifted copies) and
    how many images have 1, 2, ... annotators."""
    task = bar.add_task(f"{name}", total=len(samples))
    images, labels = [], []
    counts: Counter[int] = Counter()
    for row, sample in enumerate(samples):
        image, masks, digests = load(sample)
        fitted, stored = geometry.fit(sample, image, masks)
        if row == 0:
            writer.create_split(name, len(samples), fitted.shape, stored.shape)
        writer.write(name, row, fitted[None], stored[None])
        counts[sum(m is not None for m in masks)] += 1
        for path, file_digest in zip([sample.image, *(m for m in sample.masks if m is not None)], digests,
                                     strict=True):
            digest.update(f"{path.name}\0{file_digest}\n".encode())
        if name == "test":
            images.append(fitted)
            labels.append(stored)
        bar.advance(task)
    _write_columns(writer, name, [s.id for s in samples], [s.group for s in samples])
    if name != "test":
        return np.empty(0), np.empty(0), counts
    return np.stack(images), np.stack(labels), counts


def _write_copy(writer: PreparedWriter, name: str, images: np.ndarray, labels: np.ndarray, ids: list[str],
                groups: list[str]) -> None:
    writer.create_split(name, images.shape[0], images.shape[1:], labels.shape[1:])
    writer.write(name, 0, images, labels)
    _write_columns(writer, name, ids, groups)


def _write_columns(writer: PreparedWriter, name: str, ids: list[str], groups: list[str]) -> None:
    writer.write_strings(name, "ids", ids)
    writer.write_strings(name, "groups", groups)
