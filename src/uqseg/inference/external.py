"""Predictions made elsewhere (docs/custom_model.md "Predictions made elsewhere"): per-image AU samples of a model
uqseg cannot wrap, read from an NPZ or HDF5 file and served to ``predict_split`` as an EU method, so they become the
same predictions files, metrics and results as the study's own (docs/method.md §1, §3).

Layout: one array per evaluated split, named as the split (``val``, ``test``, each OOD split, e.g. ``ood-noise``),
of shape N×M×S×C×H×W: N images in the dataset's split order, M EU instances, S AU samples per instance, C class
probabilities (float, in [0, 1], summing to 1 over C), H×W as the annotations (row = y). Every split has the same
M, S and C. M = 1 is scored with the No-EU convention (each AU sample its own instance).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch import Tensor

from uqseg.data.contract import Dataset
from uqseg.epistemic.base import EpistemicMethod
from uqseg.errors import ConfigError, InputError
from uqseg.inference.evaluate import evaluated_splits
from uqseg.nn.base import AleatoricModel

RANGE_TOLERANCE = 1e-3
SUM_TOLERANCE = 1e-2
SUFFIXES = {".npz": "npz", ".h5": "hdf5", ".hdf5": "hdf5"}


@contextlib.contextmanager
def open_external(path: Path) -> Iterator[dict[str, Any]]:
    """The split arrays of an NPZ (read without pickle) or HDF5 file (datasets at the top level, read lazily), by
    name; an unreadable file or another suffix is an InputError naming it."""
    path = Path(path)
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"predictions file {path}: unknown format {path.suffix!r}; use .npz, .h5 or .hdf5")
    if not path.is_file():
        raise InputError(f"predictions file {path} does not exist")
    try:
        handle: Any = np.load(path, allow_pickle=False) if kind == "npz" else h5py.File(path, "r")
    except (OSError, ValueError) as err:
        raise InputError(f"predictions file {path} is not a readable {kind.upper()} file: {err}") from None
    with handle:
        yield {name: NpzMember(handle, name) if kind == "npz" else handle[name] for name in handle}


class NpzMember:
    """One array of an NPZ file: its shape and dtype from the ``.npy`` header, its data read when first indexed (so
    checking a file reads no data, and one split is in memory at a time)."""

    def __init__(self, npz: Any, name: str) -> None:
        self._npz, self._name, self._data = npz, name, None
        with npz.zip.open(f"{name}.npy") as f:
            major, _ = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, self.dtype = read(f)
        self.shape: tuple[int, ...] = tuple(shape)
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        if self._data is None:
            self._data = self._npz[self._name]
        return self._data[key]


def check_external(arrays: dict[str, Any], path: Path, dataset: Dataset) -> tuple[int, int]:
    """(M, S) of the external predictions after checking them against ``dataset``: one N×M×S×C×H×W float array per
    evaluated split and no other, N the split's image count, C its classes, H×W its annotations' size, the same M
    and S in every split. Each problem is a one-line InputError naming the file and the split."""
    splits = evaluated_splits(dataset)
    missing = [s for s in splits if s not in arrays]
    if missing:
        raise InputError(f"predictions file {path}: no array for split(s) {', '.join(missing)}; it has "
                         f"{', '.join(sorted(arrays)) or 'none'} (one N×M×S×C×H×W array per split: "
                         f"{', '.join(splits)})")
    extra = sorted(set(arrays) - set(splits))
    if extra:
        raise InputError(f"predictions file {path}: array(s) {', '.join(extra)} are not splits of "
                         f"{dataset.info.name!r} (its splits: {', '.join(splits)})")
    counts: tuple[int, int] | None = None
    for name in splits:
        array, split = arrays[name], dataset.split(name)
        shape = tuple(int(v) for v in array.shape)
        where = f"predictions file {path}, split {name!r}"
        if len(shape) != 6:
            raise InputError(f"{where}: shape {shape} is not N×M×S×C×H×W")
        if not np.issubdtype(array.dtype, np.floating):
            raise InputError(f"{where}: dtype {array.dtype} is not a float type (class probabilities)")
        n, m, s, c, h, w = shape
        if n != len(split):
            raise InputError(f"{where}: {n} images, the dataset's split has {len(split)}")
        if c != dataset.info.num_classes:
            raise InputError(f"{where}: {c} classes, the dataset has {dataset.info.num_classes}")
        size = tuple(int(v) for v in split.annotations.shape[-2:])
        if (h, w) != size:
            raise InputError(f"{where}: images of {h}×{w}, the dataset's are {size[0]}×{size[1]}")
        if min(m, s) < 1:
            raise InputError(f"{where}: M = {m} instances and S = {s} samples must both be at least 1")
        if counts is not None and (m, s) != counts:
            raise InputError(f"{where}: M = {m}, S = {s}, but the first split has M = {counts[0]}, S = {counts[1]}")
        counts = (m, s)
    assert counts is not None
    return counts


def check_probabilities(chunk: np.ndarray, where: str, start: int) -> None:
    """InputError naming ``where`` and the first image index at which ``chunk`` (B×M×S×C×H×W) holds a NaN/inf, a
    value outside [0, 1] or class probabilities not summing to 1 (within the module's tolerances)."""
    per_image = chunk.reshape(chunk.shape[0], -1)
    checks = (
        (~np.isfinite(per_image)).any(1), "a non-finite value",
        ((per_image < -RANGE_TOLERANCE) | (per_image > 1 + RANGE_TOLERANCE)).any(1), "a value outside [0, 1]",
    )
    for bad, what in zip(checks[::2], checks[1::2], strict=True):
        if bad.any():
            raise InputError(f"{where}: {what} at image index {start + int(np.flatnonzero(bad)[0])}")
    off = (np.abs(chunk.sum(3, dtype=np.float64) - 1.0) > SUM_TOLERANCE).reshape(chunk.shape[0], -1).any(1)
    if off.any():
        raise InputError(f"{where}: class probabilities do not sum to 1 over C at image index "
                         f"{start + int(np.flatnonzero(off)[0])}")


class StoredSamples(EpistemicMethod):
    """One split's stored samples as an EU method whose instance m gives sample m of the images asked for.

    ``predict_split`` asks for the images batch by batch, in split order, each batch's instance groups in order;
    the first group of a batch (holding instance 0) moves the read position on by one batch. Each batch is checked
    with ``check_probabilities`` as it is read.
    """

    name = "stored"

    def __init__(self, array: Any, path: Path, split: str) -> None:
        self.array, self.where = array, f"predictions file {path}, split {split!r}"
        self._m, self._c = int(array.shape[1]), int(array.shape[3])
        self.device = torch.device("cpu")
        self._next, self._chunk = 0, torch.empty(0)

    @property
    def num_instances(self) -> int:
        return self._m

    @property
    def num_classes(self) -> int:
        return self._c

    def to(self, device: torch.device | str) -> StoredSamples:
        self.device = torch.device(device)
        return self

    def _open(self, m: int) -> contextlib.AbstractContextManager[AleatoricModel]:
        raise ConfigError("stored predictions have no network to open; they serve samples only")

    def sample_instances(self, images: Tensor, n: int, ms: Sequence[int], seed: int) -> Tensor:
        """G×S×B×C×H×W: the stored samples of instances ``ms`` for the next B = ``len(images)`` images."""
        if 0 in ms:
            start, self._next = self._next, self._next + images.shape[0]
            chunk = np.asarray(self.array[start:self._next], dtype=np.float32)
            check_probabilities(chunk, self.where, start)
            self._chunk = torch.from_numpy(chunk)
        if self._chunk.shape[2] != n:
            raise ConfigError(f"{self.where}: {self._chunk.shape[2]} samples stored, {n} asked for")
        return self._chunk[:, list(ms)].permute(1, 2, 0, 3, 4, 5).to(self.device)
