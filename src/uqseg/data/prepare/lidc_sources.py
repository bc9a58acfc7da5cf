"""Readers of the LIDC-IDRI 2D sources (docs/method.md §8): the Prob.-UNet pickle, its TCIA metadata CSV, and the
PHiSeg/CCDM ``data_lidc.hdf5``.

The HDF5 files hold no slice keys and no patient ids. PHiSeg's conversion script stores, per slice, ``uids``: the
Python ``hash()`` of the slice's series UID, one integer per CT scan (salted per process, so it cannot be mapped back
to the UID or the patient, but it groups the slices of one scan). When every split has it, it is kept as the
``series`` column; slice ids are then the file's positions ``<split>/<row>`` (docs/datasets.md).

The pickle reader is the only code in uqseg that unpickles. It runs only when the caller states that the file is
trusted, and even then resolves nothing but plain containers, NumPy arrays and the latin-1 byte codec of
protocol-2 pickles (any other global is refused).
"""

from __future__ import annotations

import csv
import pickle
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from uqseg.errors import InputError

NUM_RATERS = 4
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
HDF5_SPLITS = ("train", "val", "test")
HDF5_IMAGE_SHIFT = 0.5
HDF5_SERIES_KEY = "uids"
IMAGE_RANGE_SLACK = 1e-3
SUBJECT_COLUMN = "Subject ID"
SERIES_COLUMNS = ("Series ID", "Series UID")
PICKLE_NOTICE = "reading the pickle {path}: a pickle can run code, so it must come from a trusted source"
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "bytearray"),
    ("_codecs", "encode"),
}


@dataclass
class LidcSlice:
    """One 2D slice of the pickle: its key, series UID, image (H×W float32 in [0, 1]) and masks (4×H×W uint8)."""

    key: str
    series_uid: str
    image: np.ndarray
    masks: np.ndarray


def source_kind(path: Path) -> str:
    """``pickle`` or ``hdf5``, from the suffix or, failing that, the file's first bytes."""
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return "hdf5"
    if suffix in (".pickle", ".pkl"):
        return "pickle"
    with open(path, "rb") as handle:
        head = handle.read(len(HDF5_SIGNATURE))
    if head == HDF5_SIGNATURE:
        return "hdf5"
    if head[:1] == b"\x80":
        return "pickle"
    raise InputError(f"{path}: neither a pickle (.pickle) nor an HDF5 file (.hdf5)")


def read_metadata(path: Path) -> dict[str, str]:
    """Map series UID → subject id (e.g. ``LIDC-IDRI-0001``) from the TCIA ``LIDC-IDRI_MetaData.csv``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = [f.strip() for f in reader.fieldnames or []]
            series_column = next((c for c in SERIES_COLUMNS if c in fields), None)
            if SUBJECT_COLUMN not in fields or series_column is None:
                raise InputError(f"metadata {path}: needs the columns {SUBJECT_COLUMN!r} and "
                                 f"{SERIES_COLUMNS[0]!r}; it has {fields}")
            reader.fieldnames = fields
            mapping: dict[str, str] = {}
            for row in reader:
                series, subject = (row.get(series_column) or "").strip(), (row.get(SUBJECT_COLUMN) or "").strip()
                if series and subject:
                    mapping.setdefault(series, subject)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"metadata {path}: cannot read it as CSV ({err})") from None
    if not mapping:
        raise InputError(f"metadata {path}: no rows with both {SUBJECT_COLUMN!r} and {series_column!r}")
    return mapping


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that resolves only containers and NumPy array globals."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return super().find_class(module, name)


def read_pickle(path: Path, trust_pickle: bool, notify: Callable[[str], None] = print) -> list[LidcSlice]:
    """Read and check the Probabilistic-UNet ``data_lidc.pickle``: refused unless ``trust_pickle``, announced by
    one line through ``notify``."""
    if not trust_pickle:
        raise InputError(f"refusing to read the pickle {path}: a pickle can run code; pass --trust-pickle if the "
                         "file comes from a trusted source")
    notify(PICKLE_NOTICE.format(path=path))
    try:
        with open(path, "rb") as handle:
            payload = _ArrayUnpickler(handle, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError,
            IndexError, KeyError, MemoryError, OSError) as err:
        raise InputError(f"pickle {path}: cannot read it ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or not payload:
        raise InputError(f"pickle {path}: expected a non-empty dict keyed '<patient>_<slice>'")
    slices = [_check_slice(path, str(key), value) for key, value in payload.items()]
    shapes = {s.image.shape for s in slices}
    if len(shapes) != 1:
        raise InputError(f"pickle {path}: images have different shapes {sorted(shapes)}")
    return slices


def _check_slice(path: Path, key: str, value: Any) -> LidcSlice:
    where = f"pickle {path}, entry {key!r}"
    if not isinstance(value, dict) or not {"image", "masks", "series_uid"} <= set(value):
        raise InputError(f"{where}: expected a dict with 'image', 'masks' and 'series_uid'")
    image = np.asarray(value["image"])
    if image.ndim != 2 or not np.issubdtype(image.dtype, np.number) or not np.isfinite(image).all():
        raise InputError(f"{where}: image must be a finite 2D array, got shape {image.shape} dtype {image.dtype}")
    masks = value["masks"]
    if not isinstance(masks, (list, tuple, np.ndarray)) or len(masks) != NUM_RATERS:
        count = len(masks) if hasattr(masks, "__len__") else "no"
        raise InputError(f"{where}: expected {NUM_RATERS} rater masks, found {count}")
    masks = [np.asarray(m) for m in masks]
    if any(m.shape != image.shape for m in masks):
        raise InputError(f"{where}: mask shapes {[m.shape for m in masks]} differ from the image {image.shape}")
    return LidcSlice(key, str(value["series_uid"]).strip(), image.astype(np.float32), _binary(where, np.stack(masks)))


def _binary(where: str, masks: np.ndarray) -> np.ndarray:
    """Masks as 0/1 uint8: values must all be in {0, 1} (bool included) or all in {0, 255}."""
    zero = masks == 0
    if (zero | (masks == 1)).all():
        return masks.astype(np.uint8)
    if (zero | (masks == 255)).all():
        return (masks == 255).astype(np.uint8)
    raise InputError(f"{where}: masks must be binary (0/1 or 0/255), found values {np.unique(masks)[:8].tolist()}")


@dataclass
class Hdf5Source:
    """An open PHiSeg/CCDM ``data_lidc.hdf5``: its file, the rater axis (1: CCDM, 3: PHiSeg), counts, slice shape."""

    path: Path
    file: h5py.File
    rater_axis: int
    counts: dict[str, int]
    shape: tuple[int, int]
    has_series: bool

    def series(self, split: str) -> list[str]:
        """The file's per-slice series hashes (``uids``) of ``split`` as decimal strings; only if ``has_series``."""
        return [str(int(v)) for v in np.asarray(self.file[split][HDF5_SERIES_KEY][()])]

    @property
    def layout(self) -> str:
        return "ccdm" if self.rater_axis == 1 else "phiseg"

    def blocks(self, split: str, block: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (images B×1×H×W in [0, 1], annotations B×4×H×W uint8) blocks of ``split``, checked."""
        group = self.file[split]
        for start in range(0, self.counts[split], block):
            stop = min(start + block, self.counts[split])
            try:
                images = np.asarray(group["images"][start:stop], dtype=np.float64)
                labels = np.asarray(group["labels"][start:stop])
            except (OSError, ValueError, KeyError) as err:
                raise InputError(f"HDF5 {self.path}: cannot read {split} rows {start}:{stop} ({err})") from None
            images = images.reshape(images.shape[0], 1, *self.shape) + HDF5_IMAGE_SHIFT
            if self.rater_axis == 3:
                labels = np.moveaxis(labels, 3, 1)
            if not np.isfinite(images).all():
                raise InputError(f"HDF5 {self.path}: {split}/images holds NaN or inf in rows {start}:{stop}")
            if images.min() < -IMAGE_RANGE_SLACK or images.max() > 1.0 + IMAGE_RANGE_SLACK:
                low, high = images.min() - HDF5_IMAGE_SHIFT, images.max() - HDF5_IMAGE_SHIFT
                raise InputError(f"HDF5 {self.path}: {split}/images rows {start}:{stop} span [{low:.3g}, {high:.3g}]; "
                                 "the PHiSeg/CCDM files hold images in [-0.5, 0.5]")
            if not np.isin(labels, (0, 1)).all():
                raise InputError(f"HDF5 {self.path}: {split}/labels are not binary (0/1) in rows {start}:{stop}")
            yield images.astype(np.float32), labels.astype(np.uint8)

    def close(self) -> None:
        self.file.close()


def open_hdf5(path: Path) -> Hdf5Source:
    """Open ``data_lidc.hdf5`` and detect its layout from the axis of length 4 of ``labels``."""
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise InputError(f"HDF5 {path}: not a readable HDF5 file ({err})") from None
    try:
        return _inspect_hdf5(path, handle)
    except InputError:
        handle.close()
        raise
    except (OSError, KeyError, ValueError, TypeError) as err:
        handle.close()
        raise InputError(f"HDF5 {path}: corrupt or unexpected content ({err})") from None


def _inspect_hdf5(path: Path, handle: h5py.File) -> Hdf5Source:
    missing = [f"{s}/{d}" for s in HDF5_SPLITS for d in ("images", "labels")
               if not isinstance(handle.get(s), h5py.Group) or not isinstance(handle[s].get(d), h5py.Dataset)]
    if missing:
        raise InputError(f"HDF5 {path}: missing datasets {missing} (expected groups train/val/test with images "
                         "and labels)")
    counts: dict[str, int] = {}
    axes, shapes = set(), set()
    for split in HDF5_SPLITS:
        images, labels = handle[split]["images"], handle[split]["labels"]
        n = images.shape[0] if images.ndim else 0
        spatial = _image_shape(path, split, images.shape)
        if labels.ndim != 4 or labels.shape[0] != n:
            raise InputError(f"HDF5 {path}: {split}/labels has shape {labels.shape}; expected {n} × 4 raters × "
                             f"{spatial[0]}×{spatial[1]} (raters second or last)")
        candidates = [axis for axis in (1, 3) if labels.shape[axis] == NUM_RATERS]
        if not candidates:
            raise InputError(f"HDF5 {path}: {split}/labels has shape {labels.shape}: wrong number of raters "
                             f"(no axis of length {NUM_RATERS} in second or last place)")
        if len(candidates) == 2:
            raise InputError(f"HDF5 {path}: {split}/labels has shape {labels.shape}: the rater axis is ambiguous")
        axis = candidates[0]
        label_spatial = labels.shape[2:] if axis == 1 else labels.shape[1:3]
        if tuple(label_spatial) != spatial:
            raise InputError(f"HDF5 {path}: {split}/labels {labels.shape} do not match images {images.shape}")
        if n == 0:
            raise InputError(f"HDF5 {path}: split {split} is empty")
        counts[split] = n
        axes.add(axis)
        shapes.add(spatial)
    if len(axes) != 1 or len(shapes) != 1:
        raise InputError(f"HDF5 {path}: splits disagree on the layout or image size")
    return Hdf5Source(path, handle, axes.pop(), counts, shapes.pop(), _has_series(path, handle, counts))


def _has_series(path: Path, handle: h5py.File, counts: dict[str, int]) -> bool:
    """Whether every split holds ``uids``, one integer per slice; InputError if one is malformed."""
    present = [split for split in HDF5_SPLITS if HDF5_SERIES_KEY in handle[split]]
    for split in present:
        uids = handle[split][HDF5_SERIES_KEY]
        if not isinstance(uids, h5py.Dataset) or uids.shape != (counts[split],) or uids.dtype.kind not in "iu":
            shape = getattr(uids, "shape", None)
            raise InputError(f"HDF5 {path}: {split}/{HDF5_SERIES_KEY} has shape {shape}; expected "
                             f"{counts[split]} integers (one series hash per slice)")
    return len(present) == len(HDF5_SPLITS)


def _image_shape(path: Path, split: str, shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 3:
        return int(shape[1]), int(shape[2])
    if len(shape) == 4 and shape[1] == 1:
        return int(shape[2]), int(shape[3])
    if len(shape) == 4 and shape[3] == 1:
        return int(shape[1]), int(shape[2])
    raise InputError(f"HDF5 {path}: {split}/images has shape {shape}; expected N×H×W")
