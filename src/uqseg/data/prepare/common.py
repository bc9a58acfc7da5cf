"""Shared helpers of the preparation commands (docs/method.md §8): source checks, hashing, progress, prepared format.

A prepared dataset is one directory, written atomically (:func:`uqseg.atomic.atomic_directory`), holding

- ``data.h5``: one group per split with ``images`` (N×C×H×W float32, raw intensities in [0, 1]; the loader
  normalises), ``annotations`` (N×K×H×W uint8 class indices; 255 where annotator k did not annotate the image),
  ``ids`` (N UTF-8 strings) and optional extra string columns (e.g. ``patients``), every array chunked
  per image and gzip-compressed;
- ``manifest.json``: format version, dataset facts, per-split counts, source files with SHA-256, and
  ``"complete": true``, written last.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from uqseg.errors import InputError

FORMAT_NAME = "uqseg-prepared"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATA_FILE = "data.h5"
HASH_BLOCK = 1 << 22
GZIP_LEVEL = 1
ABSENT_STORED = 255  # an annotator who did not annotate this image (loaded as uqseg.data.contract.ABSENT)


def require_file(path: Path | str, what: str) -> Path:
    """Return ``path`` as a Path; InputError naming it and ``what`` it should be if it is not a file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist or is not a file")
    return path


def require_dir(path: Path | str, what: str) -> Path:
    """Return ``path`` as a Path; InputError naming it and ``what`` it should be if it is not a directory."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{what} {path} does not exist or is not a directory")
    return path


def check_output(output: Path | str, overwrite: bool) -> Path:
    """Refuse an existing output directory unless ``overwrite`` (it is replaced only once the new one is done)."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise InputError(f"output {output} already exists; pass --overwrite to replace it")
    if output.exists() and not output.is_dir():
        raise InputError(f"output {output} exists and is not a directory")
    return output


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def source_entry(path: Path, name: str | None = None, digest: str | None = None) -> dict[str, Any]:
    """A manifest record of one source file: its name, size and SHA-256."""
    return {
        "name": name if name is not None else path.name,
        "bytes": path.stat().st_size,
        "sha256": digest if digest is not None else sha256_file(path),
    }


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Progress]:
    """A rich progress bar (disabled: nothing is drawn) for the preparation steps."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not enabled, transient=False) as progress:
        yield progress


class PreparedWriter:
    """Write the splits of a prepared dataset into ``directory/data.h5``, image by image or in blocks."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._file = h5py.File(self.directory / DATA_FILE, "w")
        self.counts: dict[str, int] = {}
        self.max_label: dict[str, int] = {}

    def create_split(self, name: str, n: int, image_shape: Sequence[int], annotation_shape: Sequence[int]) -> None:
        """Allocate ``name`` with room for ``n`` images of C×H×W ``image_shape`` and K×H×W ``annotation_shape``."""
        if n <= 0:
            raise InputError(f"split {name!r} would be empty")
        group = self._file.create_group(name)
        image_shape, annotation_shape = tuple(image_shape), tuple(annotation_shape)
        group.create_dataset("images", shape=(n, *image_shape), dtype=np.float32, chunks=(1, *image_shape),
                             compression="gzip", compression_opts=GZIP_LEVEL, shuffle=True)
        group.create_dataset("annotations", shape=(n, *annotation_shape), dtype=np.uint8,
                             chunks=(1, *annotation_shape), compression="gzip", compression_opts=GZIP_LEVEL)
        self.counts[name] = n
        self.max_label[name] = 0

    def write(self, name: str, start: int, images: np.ndarray, annotations: np.ndarray) -> None:
        """Write a block of images (B×C×H×W) and annotations (B×K×H×W) at rows ``start:start+B`` of ``name``."""
        group = self._file[name]
        stop = start + images.shape[0]
        group["images"][start:stop] = np.asarray(images, dtype=np.float32)
        group["annotations"][start:stop] = np.asarray(annotations, dtype=np.uint8)
        labels = np.asarray(annotations)[np.asarray(annotations) != ABSENT_STORED]
        if labels.size:
            self.max_label[name] = max(self.max_label[name], int(labels.max()))

    def write_strings(self, name: str, column: str, values: Iterable[str]) -> None:
        """Store an N-long string column (``ids``, ``patients``, ...) of split ``name``."""
        values = [str(v) for v in values]
        if len(values) != self.counts[name]:
            raise InputError(f"split {name!r}: {len(values)} {column} for {self.counts[name]} images")
        self._file[name].create_dataset(column, data=np.array(values, dtype=object), dtype=h5py.string_dtype())

    def write_array(self, name: str, column: str, values: np.ndarray) -> None:
        """Store an N-first numeric column (e.g. Chákṣu's crop windows) of split ``name``."""
        if values.shape[0] != self.counts[name]:
            raise InputError(f"split {name!r}: {values.shape[0]} {column} for {self.counts[name]} images")
        self._file[name].create_dataset(column, data=values)

    def close(self) -> None:
        """Flush and close the HDF5 file."""
        self._file.close()


def write_manifest(directory: Path, dataset: str, facts: dict[str, Any], writer: PreparedWriter,
                   sources: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``manifest.json`` (last, with ``complete: true``) and return it."""
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "dataset": dataset,
        **facts,
        "splits": {name: {"count": n, "max_label": writer.max_label[name]} for name, n in writer.counts.items()},
        "sources": sources,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra or {}),
        "complete": True,
    }
    (Path(directory) / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    return manifest
