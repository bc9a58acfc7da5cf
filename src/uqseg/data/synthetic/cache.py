"""The on-disk cache of generated synthetic data: one uncompressed ``.npz`` per dataset and option set.

The file name carries a hash of the dataset name, the generator version and the options, so changed options never
reuse stale data. Files are written atomically (:mod:`uqseg.atomic`) and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from uqseg.atomic import atomic_path
from uqseg.errors import InputError

GENERATOR_VERSION = 3


def cache_path(cache_dir: Path | str, name: str, options: dict[str, int | float]) -> Path:
    """``cache_dir/<name>-<hash of name, generator version and options>.npz``."""
    key = json.dumps({"dataset": name, "version": GENERATOR_VERSION, **options}, sort_keys=True)
    return Path(cache_dir) / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically as an uncompressed npz."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def load_arrays(path: Path, expected: Iterable[str]) -> dict[str, np.ndarray]:
    """Read a cache file; InputError naming it if it is unreadable or lacks one of the ``expected`` arrays."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise InputError(f"{path}: corrupt synthetic-data cache ({err}); delete the file to regenerate it") from None
    missing = sorted(set(expected) - set(arrays))
    if missing:
        raise InputError(f"{path}: corrupt synthetic-data cache, missing arrays {missing}; delete it to regenerate")
    return arrays
