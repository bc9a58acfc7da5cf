"""The per-split predictions file (docs/conventions.md "Run directory"): one compressed HDF5 written atomically.

Datasets: ``tu``, ``au``, ``eu`` (N×H×W float32), ``mean`` (N×C×H×W float16), ``pred`` (N×H×W uint8, argmax of
the mean), ``samples`` (k×n×C×H×W float16: the first k images' AU samples of the first EU instance) and three
per-image scores (N, float64): ``ged_dice`` and ``ged_iou`` (GED within each EU instance over its AU samples,
averaged over instances; No-EU: every AU sample its own instance; docs/method.md §3) and ``bg_fraction`` (the
predicted background fraction averaged over the mean map's argmax and, when there are several, every instance's
argmax: the authors' threshold quantile). Same orientation as the annotations (row = y, column = x; nothing is
transposed). Attributes: ``au``, ``eu``, ``split``, ``S``, ``M``, ``num_images``, ``predictions`` and
``complete`` (set last; with the atomic rename a reader never sees a partial file under the final name).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from uqseg.errors import InputError
from uqseg.layout import RunLayout, parse_combo_dir, parse_seed_dir
from uqseg.vocabulary import order_key

MAP_NAMES = ("tu", "au", "eu")
IMAGE_SCORES = ("ged_dice", "ged_iou", "bg_fraction")
REQUIRED = (*MAP_NAMES, "mean", "pred")
_GZIP = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


def create_datasets(f: h5py.File, n: int, c: int, h: int, w: int, k: int, s: int) -> None:
    """Create the (empty, chunked per image) datasets of a predictions file."""
    if c > 255:
        raise InputError(f"{c} classes do not fit the uint8 label maps of a predictions file")
    for name in MAP_NAMES:
        f.create_dataset(name, (n, h, w), dtype="float32", chunks=(1, h, w), **_GZIP)
    f.create_dataset("mean", (n, c, h, w), dtype="float16", chunks=(1, c, h, w), **_GZIP)
    f.create_dataset("pred", (n, h, w), dtype="uint8", chunks=(1, h, w), **_GZIP)
    for name in IMAGE_SCORES:
        f.create_dataset(name, (n,), dtype="float64")
    f.create_dataset("samples", (k, s, c, h, w), dtype="float16", chunks=(1, s, c, h, w) if k else None, **_GZIP)


def write_batch(f: h5py.File, start: int, arrays: Mapping[str, np.ndarray]) -> None:
    """Write one batch of images ``start..start+B`` into every dataset named in ``arrays``."""
    for name, value in arrays.items():
        f[name][start:start + value.shape[0]] = value


def read_attrs(path: Path) -> dict[str, Any]:
    """The attributes of a complete predictions file; a missing, corrupt or partial file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"predictions file {path} does not exist")
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            missing = [name for name in REQUIRED if name not in f]
    except OSError as err:
        raise InputError(f"predictions file {path} is corrupt or not HDF5: {err}") from None
    if not attrs.get("complete") or missing:
        raise InputError(f"predictions file {path} is incomplete (missing {missing or 'the complete flag'})")
    return attrs


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a complete predictions file."""
    try:
        read_attrs(path)
    except InputError:
        return False
    return True


def complete_predictions(run_dir: Path, dataset: str) -> list[tuple[int, str, str, Path]]:
    """(seed, au, eu, folder) of every combination of ``dataset`` in the run directory with a complete ID test
    predictions file, lowest seed first, then in table order."""
    base = RunLayout(run_dir).predictions_root(dataset)
    found = []
    for seed_folder in sorted(base.glob("seed*")) if base.is_dir() else []:
        seed = parse_seed_dir(seed_folder.name)
        if seed is None:
            continue
        for folder in seed_folder.iterdir():
            combo = parse_combo_dir(folder.name)
            if combo and is_complete(folder / "test.h5"):
                found.append((seed, *combo, folder))
    return sorted(found, key=lambda t: (t[0], order_key(t[1], t[2])))
