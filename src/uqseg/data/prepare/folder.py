"""``uqseg data prepare folder``: any multi-annotator folder into uqseg's prepared format (docs/datasets.md).

The layout is :mod:`uqseg.data.prepare.folder_layout`, the optional ``dataset.yaml``
:mod:`uqseg.data.prepare.folder_config`, the split :mod:`uqseg.data.prepare.folder_split`; the writing, shared with
QUBIQ, :mod:`uqseg.data.prepare.folder_write`. The output is the same safe prepared format as LIDC and Chákṣu
(docs/method.md §8), named by dataset.yaml's ``name``, else ``--name``, else the source folder's name; that name is
the dataset's name in ``--datasets folder:OUT``, presets and the report.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from uqseg.atomic import atomic_directory
from uqseg.data.contract import available_datasets
from uqseg.data.prepare.common import check_output, require_dir
from uqseg.data.prepare.folder_config import NAME_PATTERN, FolderConfig, read_config
from uqseg.data.prepare.folder_io import read_image, read_mask
from uqseg.data.prepare.folder_layout import Sample, ood_sets, rater_names, scan_set
from uqseg.data.prepare.folder_split import SPLITS_FILE, format_splits, group_of, read_splits, split_groups
from uqseg.data.prepare.folder_write import Loaded, Plan, write_plan
from uqseg.errors import InputError


def dataset_name(source: Path, config_name: str | None, name: str | None) -> str:
    """The prepared dataset's name: dataset.yaml's, else ``name``, else the source folder's (made name-safe); not
    a built-in dataset's name."""
    chosen = config_name or name or re.sub(r"[^A-Za-z0-9._-]+", "-", source.resolve().name).strip("-._")
    if not re.fullmatch(NAME_PATTERN, chosen or ""):
        raise InputError(f"dataset name {chosen!r} must match {NAME_PATTERN}; pass --name")
    if chosen in available_datasets():
        raise InputError(f"dataset name {chosen!r} is a built-in dataset; choose another (name in dataset.yaml or "
                         "--name)")
    return chosen


def folder_loader(config: FolderConfig) -> Callable[[Sample], Loaded]:
    """Read a sample's image and masks (:mod:`uqseg.data.prepare.folder_io`), with the file digests."""

    def load(sample: Sample) -> Loaded:
        image, digest = read_image(sample.image)
        masks: list[np.ndarray | None] = []
        digests = [digest]
        for path in sample.masks:
            if path is None:
                masks.append(None)
                continue
            mask, mask_digest = read_mask(path, config.label_values, config.num_classes)
            masks.append(mask)
            digests.append(mask_digest)
        return image, masks, digests

    return load


def prepare_folder(source: Path | str, output: Path | str, *, name: str | None = None, overwrite: bool = False,
                   progress: bool = False, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Prepare the multi-annotator folder ``source`` into ``output``; return the manifest (docs/datasets.md).

    On any error (one line naming the file and the problem) nothing is left at ``output``.
    """
    source = require_dir(source, "dataset folder")
    output = check_output(output, overwrite)
    config = read_config(source)
    raters = rater_names(source)
    main = scan_set(source, raters)
    ids = [s.id for s in main.samples]
    given = source / SPLITS_FILE
    if given.is_file():
        assignment, origin = read_splits(given, ids, config.group_pattern), str(given)
    else:
        assignment = split_groups({i: group_of(i, config.group_pattern) for i in ids}, config.split)
        origin = f"group split, val {config.split.val}, test {config.split.test}, seed {config.split.seed}"
    splits: dict[str, list[Sample]] = {split: [] for split in ("train", "val", "test")}
    for sample in main.samples:
        split, group = assignment[sample.id]
        splits[split].append(Sample(sample.id, sample.image, sample.masks, group))
    empty = [split for split, items in splits.items() if not items]
    if empty:
        raise InputError(f"{origin}: splits {empty} would be empty")
    ood = {split: [Sample(s.id, s.image, s.masks, s.id) for s in found.samples]
           for split, found in ood_sets(source, raters).items()}
    plan = Plan(dataset_name(source, config.name, name), splits, raters, config.size, config.resize,
                config.normalisation, tuple(config.classes) if config.classes else None, dict(config.shifts), "folder")
    missing = {r: sum(s.masks[k] is None for s in main.samples) for k, r in enumerate(raters)}
    echo(f"{plan.name}: {', '.join(f'{k} {len(v)}' for k, v in {**splits, **ood}.items())} images, "
         f"{len(raters)} raters ({', '.join(f'{r} misses {n}' for r, n in missing.items() if n) or 'none missing'})")
    with atomic_directory(output) as tmp:
        manifest = write_plan(tmp, plan, ood, folder_loader(config), progress=progress,
                              extra={"split": origin, "missing_annotations": missing}, source_name=source.name)
        (tmp / SPLITS_FILE).write_text(format_splits(assignment), encoding="utf-8")
    return manifest
