"""Prepared folder and QUBIQ datasets as first-class dataset names (docs/datasets.md, "Using a prepared folder").

A prepared folder dataset records its name in its manifest. It is referenced by path: ``--datasets folder:DATA``
becomes the dataset named in ``DATA/manifest.json`` with ``root`` DATA (a prepared LIDC or Chákṣu works too); in
a preset, ``datasets: {NAME: {root: DATA}}`` does the same. ``uqseg.data.get_dataset(NAME, root=DATA)`` opens any such
dataset whose manifest says it is ``NAME``, without a registered factory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from uqseg.data.contract import Dataset
from uqseg.data.prepare.common import FORMAT_NAME, MANIFEST
from uqseg.errors import ConfigError, InputError

PREFIX = "folder:"
FORMATS = ("folder", "qubiq")


def prepared_name(root: Path | str) -> str:
    """The name the prepared dataset at ``root`` records (a folder or QUBIQ dataset, or a prepared LIDC or Chákṣu);
    ConfigError if ``root`` holds none."""
    path = Path(root).expanduser() / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: not a prepared dataset manifest ({err}); run `uqseg data prepare folder` "
                          "first") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ConfigError(f"{path}: not a dataset prepared by `uqseg data prepare`")
    return str(manifest.get("dataset"))


def _source_format(root: Path | str) -> str | None:
    manifest = json.loads((Path(root).expanduser() / MANIFEST).read_text(encoding="utf-8"))
    return manifest.get("source_format")


def resolve_reference(item: str) -> tuple[str, str]:
    """``folder:DATA`` → (the dataset's recorded name, DATA as an absolute path)."""
    root = item.removeprefix(PREFIX).strip()
    if not root:
        raise ConfigError(f"{item!r}: give the prepared folder, e.g. folder:data/my-dataset")
    path = Path(root).expanduser().resolve()
    return prepared_name(path), str(path)


def check_reference(name: str, root: str | None) -> None:
    """ConfigError unless ``root`` holds the prepared folder dataset called ``name``."""
    if root is None:
        raise ConfigError(f"datasets.{name}: unknown dataset; a prepared folder dataset needs its root "
                          f"(--datasets folder:DATA or datasets.{name}.root)")
    found = prepared_name(root)
    if found != name:
        raise ConfigError(f"datasets.{name}: {root} holds the dataset {found!r}, not {name!r}")
    if _source_format(root) not in FORMATS:
        raise ConfigError(f"datasets.{name}: {root} was not prepared by `uqseg data prepare folder` or `... qubiq`")


def open_folder_dataset(name: str, *, root: str | Path, cache_dir: Any = None, seed: int = 0) -> Dataset:
    """The prepared folder dataset ``name`` at ``root``; ``cache_dir`` and ``seed`` do not apply."""
    from uqseg.data.prepared import open_prepared

    try:
        check_reference(name, str(root))
    except ConfigError as err:
        raise InputError(str(err)) from None
    return open_prepared(root, name)
