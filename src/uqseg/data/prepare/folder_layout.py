"""The plain multi-annotator folder layout (docs/datasets.md, "Any multi-annotator folder")::

    SOURCE/images/<id>.<ext>
    SOURCE/annotations/<rater>/<id>.<ext>
    SOURCE/ood/<name>/images/<id>.<ext>                (optional, real OOD sets)
    SOURCE/ood/<name>/annotations/<rater>/<id>.<ext>

An id is the file's path below ``images/`` (or below the rater's folder) without its suffix, so nested folders
(``images/<patient>/<slice>.png``) keep their structure. Raters are the sub-folders of ``annotations/``, in sorted
order; a rater may lack some images (that annotator is then absent for them), but every image needs at least one
annotation and every annotation an image. Hidden files (``.*``) are ignored; any other file type is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from uqseg.data.prepare.folder_config import NAME_PATTERN
from uqseg.data.prepare.folder_io import IMAGE_TYPES
from uqseg.errors import InputError

IMAGES = "images"
ANNOTATIONS = "annotations"
OOD = "ood"


@dataclass(frozen=True)
class Sample:
    """One image and, per rater in rater order, its mask file (None: that rater did not annotate it)."""

    id: str
    image: Path
    masks: tuple[Path | None, ...]
    group: str = ""


@dataclass(frozen=True)
class FolderSet:
    """The samples of one ``images/`` + ``annotations/`` pair (the main set or one OOD set)."""

    root: Path
    samples: list[Sample]


def index_files(folder: Path) -> dict[str, Path]:
    """id → file for every accepted file below ``folder`` (module docstring); InputError on a duplicate id or an
    unsupported file type."""
    index: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(folder).parts) or not path.is_file():
            continue
        if path.suffix.lower() not in IMAGE_TYPES:
            raise InputError(f"{path}: unsupported file type (accepted: {', '.join(sorted(IMAGE_TYPES))})")
        key = path.relative_to(folder).with_suffix("").as_posix()
        if key in index:
            raise InputError(f"{path}: same id {key!r} as {index[key]}")
        index[key] = path
    return index


def rater_names(root: Path) -> tuple[str, ...]:
    """The sorted rater folders of ``root/annotations``; InputError if there is none."""
    folder = root / ANNOTATIONS
    if not folder.is_dir():
        raise InputError(f"{folder}: missing; annotations go to {ANNOTATIONS}/<rater>/<id>.<ext>")
    raters = tuple(sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")))
    if not raters:
        raise InputError(f"{folder}: holds no rater folders ({ANNOTATIONS}/<rater>/<id>.<ext>)")
    return raters


def scan_set(root: Path, raters: tuple[str, ...]) -> FolderSet:
    """The samples of ``root`` with their masks for ``raters`` (a rater folder may be absent: that rater is then
    absent for every image of this set); InputError naming the first image or annotation without its partner."""
    image_dir = root / IMAGES
    if not image_dir.is_dir():
        raise InputError(f"{image_dir}: missing; images go to {IMAGES}/<id>.<ext>")
    images = index_files(image_dir)
    if not images:
        raise InputError(f"{image_dir}: holds no images")
    unknown = sorted(set(rater_names(root)) - set(raters))
    if unknown:
        raise InputError(f"{root / ANNOTATIONS / unknown[0]}: rater {unknown[0]!r} is not a rater of the main set "
                         f"({', '.join(raters)})")
    masks = [index_files(root / ANNOTATIONS / r) if (root / ANNOTATIONS / r).is_dir() else {} for r in raters]
    for index in masks:
        orphan = next((key for key in index if key not in images), None)
        if orphan is not None:
            raise InputError(f"{index[orphan]}: annotation without an image (no {IMAGES}/{orphan}.* in {root})")
    samples = []
    for key, path in images.items():
        found = tuple(index.get(key) for index in masks)
        if all(mask is None for mask in found):
            raise InputError(f"{path}: image without annotations (no {ANNOTATIONS}/<rater>/{key}.* from any of "
                             f"{', '.join(raters)})")
        samples.append(Sample(key, path, found))
    return FolderSet(root, samples)


def ood_sets(source: Path, raters: tuple[str, ...]) -> dict[str, FolderSet]:
    """The real OOD sets ``source/ood/<name>``, keyed by split name (``ood-<name>``; a name starting with ``ood``
    is kept)."""
    folder = source / OOD
    if not folder.is_dir():
        return {}
    sets = {}
    for path in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not re.fullmatch(NAME_PATTERN, path.name):
            raise InputError(f"{path}: an OOD set's name must match {NAME_PATTERN}")
        name = path.name if path.name.startswith("ood") else f"ood-{path.name}"
        sets[name] = scan_set(path, raters)
    if not sets:
        raise InputError(f"{folder}: holds no OOD set folders (ood/<name>/images, ood/<name>/annotations)")
    return sets
