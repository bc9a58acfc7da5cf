"""``uqseg data prepare lidc``: LIDC-IDRI 2D into uqseg's prepared format (docs/method.md §8).

From the pickle, slices are grouped by patient (series UID → ``Subject ID`` through the metadata CSV) and split by
patient (:mod:`uqseg.data.prepare.lidc_split`, or a ``patient,split`` file); the split used is written to
``split.csv`` in the output. From a PHiSeg/CCDM HDF5 file its own train/val/test groups are kept. The test split
is copied four times with one shift each (``uqseg.data.shifts``, seed 7); the copies keep the test annotations.

Identifiers: from the pickle, ``ids`` are its keys ``<patient>_<slice>`` and ``patients`` the metadata's subject
ids. The HDF5 files carry neither: ``ids`` are the positions ``<split>/<row>`` in the file and, when the file has
PHiSeg's per-slice ``uids`` (series hashes), they are kept as ``series``. The manifest's ``identifiers`` says which,
and ``series_across_splits`` counts the series found in more than one split (0 when the split is by scan).

Images are stored raw, 1×H×W in [0, 1] (the HDF5 files' −0.5 offset undone); the loader replicates them to 3
channels and applies the ImageNet mean/std (docs/method.md §7). Annotations are 4×H×W class indices (0/1).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from uqseg.atomic import atomic_directory
from uqseg.data.prepare.common import (
    PreparedWriter,
    check_output,
    progress_bar,
    require_file,
    source_entry,
    write_manifest,
)
from uqseg.data.prepare.lidc_sources import (
    NUM_RATERS,
    Hdf5Source,
    LidcSlice,
    open_hdf5,
    read_metadata,
    read_pickle,
    source_kind,
)
from uqseg.data.prepare.lidc_split import (
    SPLIT_NAMES,
    format_split_file,
    read_split_file,
    shipped_patient_split,
    split_definition,
)
from uqseg.data.prepared import open_prepared
from uqseg.data.shifts import SHIFT_NAMES, apply_shift
from uqseg.errors import InputError

OOD_SEED = 7
WRITE_BLOCK = 256
SPLIT_TABLE = "split.csv"
LIDC_FACTS = {
    "num_classes": 2,
    "num_annotators": NUM_RATERS,
    "stored_channels": 1,
    "in_channels": 3,
    "normalisation": "imagenet",
    "class_names": ["background", "lesion"],
}


def prepare_lidc(source: Path | str, output: Path | str, *, metadata: Path | str | None = None,
                 trust_pickle: bool = False, split_file: Path | str | None = None, overwrite: bool = False,
                 progress: bool = False, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Prepare LIDC-IDRI 2D from ``source`` (pickle + ``metadata``, or HDF5) into ``output``; return the manifest.

    The pickle is read only with ``trust_pickle``. ``split_file`` (pickle input only) replaces the computed
    patient split by a ``patient,split`` table. On any error nothing is left at ``output``.
    """
    source = require_file(source, "LIDC source")
    output = check_output(output, overwrite)
    if source_kind(source) == "hdf5":
        if split_file is not None:
            raise InputError(f"--split-file applies to the pickle only; {source} keeps its own train/val/test")
        return _prepare_hdf5(source, output, progress, echo)
    if not trust_pickle:
        raise InputError(f"refusing to read the pickle {source}: a pickle can run code; pass --trust-pickle if the "
                         "file comes from a trusted source")
    if metadata is None:
        raise InputError(f"the pickle {source} needs --metadata LIDC-IDRI_MetaData.csv to map series to patients")
    metadata = require_file(metadata, "LIDC metadata CSV")
    series_to_patient = read_metadata(metadata)
    assignment = read_split_file(split_file) if split_file is not None else None
    slices = read_pickle(source, trust_pickle, notify=echo)
    patients = _patients(source, slices, series_to_patient)
    origin = str(split_file) if split_file is not None else "computed (uqseg/data/splits/lidc_split.json)"
    if assignment is None:
        assignment = shipped_patient_split(patients)
    parts = _split_slices(source, slices, patients, assignment, origin)
    counts = {name: len(items) for name, items in parts.items()}
    check = _compare_with_paper(len(slices), counts)
    echo(f"LIDC: {', '.join(f'{name} {n}' for name, n in counts.items())} slices; {check}")
    low, high = min(float(s.image.min()) for s in slices), max(float(s.image.max()) for s in slices)
    if low < 0.0 or high > 1.0:
        echo(f"warning: the pickle's images span [{low:.4g}, {high:.4g}], not [0, 1]; the loader's ImageNet "
             "normalisation assumes [0, 1]")
    sources = [source_entry(source), source_entry(metadata)]
    with atomic_directory(output) as tmp:
        manifest = _write_pickle_splits(tmp, parts, sources, {"split": origin, "paper_counts": check}, progress)
        present = {patient for items in parts.values() for patient, _ in items}
        (tmp / SPLIT_TABLE).write_text(format_split_file({p: assignment[p] for p in present}), encoding="utf-8")
        open_prepared(tmp, "lidc", verify=True)
    return manifest


def _patients(source: Path, slices: list[LidcSlice], series_to_patient: dict[str, str]) -> list[str]:
    patients = []
    for item in slices:
        if item.series_uid not in series_to_patient:
            raise InputError(f"pickle {source}, entry {item.key!r}: series UID {item.series_uid} is not in the "
                             "metadata CSV")
        patients.append(series_to_patient[item.series_uid])
    return patients


def _split_slices(source: Path, slices: list[LidcSlice], patients: list[str], assignment: dict[str, str],
                  origin: str) -> dict[str, list[tuple[str, LidcSlice]]]:
    """Group slices by split, ordered by patient and then by their order in the pickle."""
    unknown = sorted({p for p in patients if p not in assignment})
    if unknown:
        raise InputError(f"pickle {source}: patients {unknown[:5]} are not in the split file {origin}")
    parts: dict[str, list[tuple[str, LidcSlice]]] = {name: [] for name in SPLIT_NAMES}
    for i in sorted(range(len(slices)), key=lambda i: (patients[i], i)):
        parts[assignment[patients[i]]].append((patients[i], slices[i]))
    empty = [name for name, items in parts.items() if not items]
    if empty:
        raise InputError(f"pickle {source}: splits {empty} would be empty with the split {origin}")
    return parts


def _compare_with_paper(num_slices: int, counts: dict[str, int]) -> str:
    """Whether the split reproduces the paper's 9355/2689/3052 (only meaningful on the full 15,096 slices)."""
    spec = split_definition()
    paper = "/".join(str(spec["paper_counts"][name]) for name in SPLIT_NAMES)
    if num_slices != spec["paper_slices"]:
        return f"{num_slices} slices, not the paper's {spec['paper_slices']}: no comparison with {paper}"
    if counts == spec["paper_counts"]:
        return f"matches the paper's {paper}"
    return f"DIFFERS from the paper's {paper}"


def _write_pickle_splits(tmp: Path, parts: dict[str, list[tuple[str, LidcSlice]]], sources: list[dict[str, Any]],
                         extra: dict[str, Any], progress: bool) -> dict[str, Any]:
    shape = parts["train"][0][1].image.shape
    writer = PreparedWriter(tmp)
    try:
        with progress_bar(progress) as bar:
            for name, items in parts.items():
                task = bar.add_task(f"LIDC {name}", total=len(items))
                writer.create_split(name, len(items), (1, *shape), (NUM_RATERS, *shape))
                for start in range(0, len(items), WRITE_BLOCK):
                    block = [item for _, item in items[start:start + WRITE_BLOCK]]
                    writer.write(name, start, np.stack([item.image[None] for item in block]),
                                 np.stack([item.masks for item in block]))
                    bar.advance(task, len(block))
                writer.write_strings(name, "ids", [item.key for _, item in items])
                writer.write_strings(name, "patients", [patient for patient, _ in items])
            test_images = np.stack([item.image[None] for _, item in parts["test"]])
            test_masks = np.stack([item.masks for _, item in parts["test"]])
            _write_ood(writer, test_images, test_masks, [item.key for _, item in parts["test"]], bar)
    finally:
        writer.close()
    facts = {**LIDC_FACTS, "image_size": list(shape), "source_format": "pickle"}
    identifiers = {"ids": "the pickle's keys <patient>_<slice>",
                   "patients": "Subject ID of the slice's series UID in the metadata CSV"}
    return write_manifest(tmp, "lidc", facts, writer, sources,
                          {**extra, "ood_seed": OOD_SEED, "identifiers": identifiers})


def _prepare_hdf5(source: Path, output: Path, progress: bool, echo: Callable[[str], None]) -> dict[str, Any]:
    hdf5 = open_hdf5(source)
    try:
        with atomic_directory(output) as tmp:
            writer = PreparedWriter(tmp)
            test_images, test_masks = [], []
            try:
                with progress_bar(progress) as bar:
                    for name in SPLIT_NAMES:
                        task = bar.add_task(f"LIDC {name}", total=hdf5.counts[name])
                        writer.create_split(name, hdf5.counts[name], (1, *hdf5.shape), (NUM_RATERS, *hdf5.shape))
                        row = 0
                        for images, masks in hdf5.blocks(name):
                            writer.write(name, row, images, masks)
                            if name == "test":
                                test_images.append(images)
                                test_masks.append(masks)
                            row += images.shape[0]
                            bar.advance(task, images.shape[0])
                        writer.write_strings(name, "ids", [f"{name}/{i:05d}" for i in range(hdf5.counts[name])])
                        if hdf5.has_series:
                            writer.write_strings(name, "series", hdf5.series(name))
                    test_ids = [f"test/{i:05d}" for i in range(hdf5.counts["test"])]
                    test_series = hdf5.series("test") if hdf5.has_series else None
                    _write_ood(writer, np.concatenate(test_images), np.concatenate(test_masks), test_ids, bar,
                               test_series)
            finally:
                writer.close()
            facts = {**LIDC_FACTS, "image_size": list(hdf5.shape), "source_format": f"{hdf5.layout}-hdf5"}
            extra = {"split": f"the train/val/test groups of {source.name}", "ood_seed": OOD_SEED,
                     **_hdf5_identifiers(hdf5, echo)}
            manifest = write_manifest(tmp, "lidc", facts, writer, [source_entry(source)], extra)
            open_prepared(tmp, "lidc", verify=True)
    finally:
        hdf5.close()
    return manifest


def _hdf5_identifiers(hdf5: Hdf5Source, echo: Callable[[str], None]) -> dict[str, Any]:
    """The manifest's ``identifiers`` of an HDF5 source and, with series hashes, ``series_across_splits``."""
    positional = "positions <split>/<row> in the HDF5 file (it stores no slice keys)"
    if not hdf5.has_series:
        return {"identifiers": {"ids": positional, "series": "absent: the file has no per-slice uids"}}
    splits_of: dict[str, set[str]] = {}
    for name in SPLIT_NAMES:
        for series in hdf5.series(name):
            splits_of.setdefault(series, set()).add(name)
    crossing = sum(len(names) > 1 for names in splits_of.values())
    if crossing:
        echo(f"warning: {crossing} of {len(splits_of)} series of {hdf5.path.name} have slices in more than one "
             "split")
    identifiers = {"ids": positional, "series": "the file's per-slice uids: hash of the series UID, one per CT scan"}
    return {"identifiers": identifiers, "series_across_splits": crossing}


def _write_ood(writer: PreparedWriter, images: np.ndarray, masks: np.ndarray, ids: list[str], bar: Any,
               series: list[str] | None = None) -> None:
    """Write the 4 shifted copies of the test split (``ood-<shift>``); the annotations are the test annotations,
    the ids (and ``series``, if given) the test split's."""
    task = bar.add_task("LIDC OOD copies", total=len(SHIFT_NAMES))
    for shift in SHIFT_NAMES:
        name = f"ood-{shift}"
        writer.create_split(name, images.shape[0], images.shape[1:], masks.shape[1:])
        writer.write(name, 0, apply_shift(images, shift, seed=OOD_SEED), masks)
        writer.write_strings(name, "ids", ids)
        if series is not None:
            writer.write_strings(name, "series", series)
        bar.advance(task)
