"""Lazy loader of prepared real datasets (``uqseg data prepare lidc|chaksu``; docs/method.md §7, §8).

``open_prepared(root, "lidc")`` validates the directory on open (completion marker, dtypes, shapes, equal numbers
of annotators, non-empty splits and, with ``verify``, every annotation value below ``num_classes``) and returns a
:class:`uqseg.data.Dataset` whose split arrays read from ``data.h5`` only when indexed.

Normalisation happens here, on read (images are stored raw in [0, 1]): LIDC grey slices are replicated to 3
channels and normalised with the ImageNet mean/std; Chákṣu images are standardised per image,
``(x − mean) / (std + 1e-8)`` over all channels and pixels. Annotations are returned as int64.

Multiprocessing: each :class:`H5Array` opens the HDF5 file read-only on first access in each process (it notices
a fork by the process id) and drops the handle when pickled, so DataLoader workers, forked or spawned, each
read through their own handle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from uqseg.data.contract import ABSENT, ID_SPLITS, Dataset, DatasetInfo, Split
from uqseg.data.prepare.common import ABSENT_STORED, DATA_FILE, FORMAT_NAME, FORMAT_VERSION, MANIFEST
from uqseg.errors import InputError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
STANDARDISE_EPS = 1e-8
VERIFY_BLOCK = 256


def imagenet_normalise(images: np.ndarray) -> np.ndarray:
    """Grey (…×1×H×W) → 3 channels, or RGB as it is, with ImageNet mean/std (docs/method.md §7, LIDC)."""
    images = np.asarray(images, dtype=np.float32)
    rgb = np.repeat(images, 3, axis=-3) if images.shape[-3] == 1 else images
    return (rgb - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]


def standardise(images: np.ndarray) -> np.ndarray:
    """Per-image standardisation over channels and pixels (docs/method.md §7, Chákṣu)."""
    images = np.asarray(images, dtype=np.float32)
    mean = images.mean(axis=(-3, -2, -1), keepdims=True)
    std = images.std(axis=(-3, -2, -1), keepdims=True)
    return ((images - mean) / (std + STANDARDISE_EPS)).astype(np.float32)


def as_int64(values: np.ndarray) -> np.ndarray:
    """Class indices as int64; the stored absent-annotator marker 255 becomes ``ABSENT`` (−1)."""
    values = np.asarray(values)
    return np.where(values == ABSENT_STORED, ABSENT, values.astype(np.int64))


def as_float32(images: np.ndarray) -> np.ndarray:
    """Images as stored (normalisation ``none``)."""
    return np.asarray(images, dtype=np.float32)


NORMALISERS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"imagenet": imagenet_normalise,
                                                             "standardise": standardise, "none": as_float32}


class H5Array:
    """An N-first array read lazily from one HDF5 dataset, with a transform applied to what is read.

    Indexing takes an int, a slice, an integer sequence or a tuple starting with one of those, and returns NumPy.
    """

    def __init__(self, path: Path, key: str, shape: tuple[int, ...], transform: Callable[[np.ndarray], np.ndarray]):
        self.path = Path(path)
        self.key = key
        self.shape = tuple(shape)
        self.transform = transform
        self._handle: h5py.File | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def _dataset(self) -> h5py.Dataset:
        if self._handle is None or self._pid != os.getpid():
            self._handle = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._handle[self.key]

    def __getitem__(self, index: Any) -> np.ndarray:
        rest: tuple[Any, ...] = ()
        if isinstance(index, tuple):
            index, rest = (index[0], index[1:]) if index else (slice(None), ())
        rows, squeeze = self._rows(index)
        try:
            data = self._read(rows)
        except OSError as err:
            raise InputError(f"{self.path}: cannot read {self.key} ({err})") from None
        out = self.transform(data[0] if squeeze else data)
        if rest:
            out = out[rest] if squeeze else out[(slice(None), *rest)]
        return out

    def _rows(self, index: Any) -> tuple[Any, bool]:
        n = self.shape[0]
        if isinstance(index, (int, np.integer)):
            i = int(index) + n if int(index) < 0 else int(index)
            if not 0 <= i < n:
                raise IndexError(f"index {int(index)} out of range for {n} rows of {self.key}")
            return slice(i, i + 1), True
        if isinstance(index, slice):
            return slice(*index.indices(n)), False
        rows = np.asarray(index)
        if rows.dtype == np.bool_:
            rows = np.flatnonzero(rows)
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
            raise IndexError(f"unsupported index {index!r} for {self.key}")
        rows = np.where(rows < 0, rows + n, rows)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"index out of range for {n} rows of {self.key}")
        return rows, False

    def _read(self, rows: Any) -> np.ndarray:
        dataset = self._dataset()
        if isinstance(rows, slice) and rows.step == 1:
            return dataset[rows.start:rows.stop]
        if isinstance(rows, slice):
            rows = np.arange(rows.start, rows.stop, rows.step)
        if rows.size == 0:
            return np.empty((0, *dataset.shape[1:]), dtype=dataset.dtype)
        unique, inverse = np.unique(rows, return_inverse=True)
        return dataset[unique][inverse]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self[:]
        return data if dtype is None else data.astype(dtype)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_handle"] = None
        state["_pid"] = None
        return state


def open_prepared(root: Path | str, dataset: str, *, verify: bool = False) -> Dataset:
    """Open and validate the prepared ``dataset`` (``lidc`` or ``chaksu``) at ``root``; InputError on any defect.

    ``verify`` also reads every annotation to check it is below ``num_classes`` (the preparation commands do this
    once before they finish; the manifest's ``max_label`` is always checked)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"prepared dataset {root} does not exist; run `uqseg data prepare {dataset}` first")
    manifest = _read_manifest(root, dataset)
    path = root / DATA_FILE
    if not path.is_file():
        raise InputError(f"{path}: missing (the prepared dataset is incomplete)")
    try:
        with h5py.File(path, "r") as handle:
            shapes = {name: _check_split(path, handle, name, manifest, verify) for name in manifest["splits"]}
    except OSError as err:
        raise InputError(f"{path}: not a readable HDF5 file ({err})") from None
    annotators = {shape[1][1] for shape in shapes.values()}
    sizes = {shape[0][2:] for shape in shapes.values()}
    if len(annotators) != 1 or len(sizes) != 1:
        raise InputError(f"{path}: splits disagree on the number of annotators {sorted(annotators)} or the image "
                         f"size {sorted(sizes)}")
    normalise = NORMALISERS[manifest["normalisation"]]
    in_channels = int(manifest["in_channels"])
    splits = {}
    for name, (image_shape, annotation_shape) in shapes.items():
        n, _, h, w = image_shape
        images = H5Array(path, f"{name}/images", (n, in_channels, h, w), normalise)
        annotations = H5Array(path, f"{name}/annotations", annotation_shape, as_int64)
        splits[name] = Split(name, images, annotations, meta={"source": str(path), "dataset": dataset})
    info = DatasetInfo(
        name=dataset,
        num_classes=int(manifest["num_classes"]),
        in_channels=in_channels,
        num_annotators=annotators.pop(),
        image_size=sizes.pop(),
        ood_splits=tuple(name for name in manifest["splits"] if name.startswith("ood")),
        class_names=tuple(manifest.get("class_names", ())),
    )
    return Dataset(info, splits)


def _read_manifest(root: Path, dataset: str) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.is_file():
        raise InputError(f"{path}: missing; {root} is not a complete prepared dataset")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise InputError(f"{path}: not a uqseg prepared-dataset manifest")
    if manifest.get("version") != FORMAT_VERSION:
        raise InputError(f"{path}: format version {manifest.get('version')}; this uqseg reads {FORMAT_VERSION}")
    if manifest.get("complete") is not True:
        raise InputError(f"{path}: the dataset is not marked complete; prepare it again")
    if manifest.get("dataset") != dataset:
        raise InputError(f"{path}: holds dataset {manifest.get('dataset')!r}, not {dataset!r}")
    splits = manifest.get("splits")
    if not isinstance(splits, dict) or any(s not in splits for s in ID_SPLITS) or \
            not any(str(s).startswith("ood") for s in splits):
        raise InputError(f"{path}: needs the splits train, val, test and at least one ood split")
    missing = [k for k in ("num_classes", "num_annotators", "in_channels", "stored_channels", "normalisation")
               if k not in manifest]
    if missing or manifest["normalisation"] not in NORMALISERS:
        raise InputError(f"{path}: missing or invalid fields {missing or ['normalisation']}")
    return manifest


def _check_split(path: Path, handle: h5py.File, name: str, manifest: dict[str, Any],
                 verify: bool) -> tuple[tuple[int, ...], tuple[int, ...]]:
    where = f"{path}: split {name!r}"
    group = handle.get(name)
    if not isinstance(group, h5py.Group) or any(not isinstance(group.get(k), h5py.Dataset)
                                                for k in ("images", "annotations", "ids")):
        raise InputError(f"{where}: missing images, annotations or ids")
    images, annotations = group["images"], group["annotations"]
    if images.dtype != np.float32 or annotations.dtype != np.uint8:
        raise InputError(f"{where}: dtypes {images.dtype}/{annotations.dtype}; expected float32/uint8")
    if images.ndim != 4 or annotations.ndim != 4:
        raise InputError(f"{where}: images {images.shape} and annotations {annotations.shape} must be 4D")
    n = images.shape[0]
    if n == 0:
        raise InputError(f"{where}: empty")
    if annotations.shape[0] != n or group["ids"].shape != (n,) or annotations.shape[2:] != images.shape[2:]:
        raise InputError(f"{where}: images {images.shape}, annotations {annotations.shape} and "
                         f"ids {group['ids'].shape} do not line up")
    if images.shape[1] != int(manifest["stored_channels"]):
        raise InputError(f"{where}: {images.shape[1]} channels; expected {manifest['stored_channels']}")
    if annotations.shape[1] != int(manifest["num_annotators"]):
        raise InputError(f"{where}: {annotations.shape[1]} annotators; expected {manifest['num_annotators']}")
    if int(manifest["splits"][name].get("count", -1)) != n:
        raise InputError(f"{where}: {n} images but the manifest says {manifest['splits'][name].get('count')}")
    num_classes = int(manifest["num_classes"])
    if int(manifest["splits"][name].get("max_label", num_classes)) >= num_classes:
        raise InputError(f"{where}: the manifest records labels up to {manifest['splits'][name].get('max_label')}, "
                         f"not below num_classes {num_classes}")
    if verify:
        for start in range(0, n, VERIFY_BLOCK):
            block = annotations[start:start + VERIFY_BLOCK]
            top = int(np.where(block == ABSENT_STORED, 0, block).max())
            if top >= num_classes:
                raise InputError(f"{where}: annotation value {top} ≥ num_classes {num_classes} "
                                 f"(rows {start}:{start + VERIFY_BLOCK})")
    return tuple(images.shape), tuple(annotations.shape)
