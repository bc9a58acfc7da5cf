"""``uqseg data prepare qubiq``: one binary task of a QUBIQ dataset into uqseg's prepared format (docs/datasets.md).

QUBIQ (Quantification of Uncertainties in Biomedical Image Quantification) ships each dataset as case folders::

    SOURCE/[Training|Validation/]case<NN>/image.nii.gz
    SOURCE/[Training|Validation/]case<NN>/task<TT>_seg<RR>.nii.gz     one binary mask per task TT and rater RR

Folder and file names are matched without regard to case; ``task1_seg2`` and ``task01_seg02`` are the same. The
raters are the seg numbers found for the task over all cases; a case may lack some (that rater is then absent for
it), but needs at least one. Images and masks are read with nibabel; the arrays are transposed to row = the second
voxel axis (j, y), column = the first (i, x), as ITK and SimpleITK present 2D images, and trailing axes of the
image are channels (e.g. the 4 MR sequences of brain tumour). Masks must be 2D (trailing axes of length 1 are
dropped) and binary: values 0/1, or 0/255, within 10⁻³.

Splits: with ``Training`` and ``Validation`` folders, ``Validation`` is ``test`` and the training cases are split
into ``train`` and ``val`` by case (``val`` fraction 0.2, seeded); otherwise all cases are split 60/20/20 by case.
OOD: the four synthetic shifts of the test split, as for LIDC (docs/method.md §8).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from uqseg.atomic import atomic_directory
from uqseg.data.prepare.common import check_output, require_dir
from uqseg.data.prepare.folder import dataset_name
from uqseg.data.prepare.folder_config import SplitRule
from uqseg.data.prepare.folder_io import Rule
from uqseg.data.prepare.folder_layout import Sample
from uqseg.data.prepare.folder_split import SPLITS_FILE, format_splits, split_groups
from uqseg.data.prepare.folder_write import Loaded, Plan, write_plan
from uqseg.data.prepared import NORMALISERS
from uqseg.data.shifts import SHIFT_NAMES
from uqseg.errors import InputError

IMAGE_FILE = "image.nii.gz"
SEG_PATTERN = re.compile(r"task0*(\d+)_seg0*(\d+)\.nii(\.gz)?", re.IGNORECASE)
BINARY_TOLERANCE = 1e-3


def _read_nifti(path: Path) -> tuple[np.ndarray, str]:
    """The voxel array of a NIfTI file, transposed to row = y (module docstring), and the file's SHA-256."""
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    try:
        data = path.read_bytes()
        image = nib.Nifti1Image.from_bytes(_gunzipped(data, path))
        array = np.asarray(image.get_fdata(dtype=np.float64))
    except (OSError, ValueError, ImageFileError, EOFError) as err:
        raise InputError(f"{path}: not a readable NIfTI file ({err})") from None
    if array.ndim < 2:
        raise InputError(f"{path}: {array.ndim}D data; QUBIQ images are 2D")
    if not np.isfinite(array).all():
        raise InputError(f"{path}: holds NaN or inf")
    return np.swapaxes(array, 0, 1), hashlib.sha256(data).hexdigest()


def _gunzipped(data: bytes, path: Path) -> bytes:
    import gzip

    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as err:
        raise InputError(f"{path}: corrupt gzip data ({err})") from None


def read_image(path: Path) -> tuple[np.ndarray, str]:
    """A C×H×W float32 image (trailing axes are channels) and the file's SHA-256."""
    array, digest = _read_nifti(path)
    height, width = array.shape[:2]
    channels = array.reshape(height, width, -1).transpose(2, 0, 1)
    return np.ascontiguousarray(channels, dtype=np.float32), digest


def read_mask(path: Path) -> tuple[np.ndarray, str]:
    """An H×W 0/1 mask (module docstring) and the file's SHA-256."""
    array, digest = _read_nifti(path)
    extra = [n for n in array.shape[2:] if n != 1]
    if extra:
        raise InputError(f"{path}: shape {array.shape}; a QUBIQ mask must be 2D (3D volumes are not supported)")
    mask = array.reshape(array.shape[:2])
    if mask.size and mask.max() > 1 + BINARY_TOLERANCE and np.all((np.abs(mask) < BINARY_TOLERANCE)
                                                                   | (np.abs(mask - 255) < BINARY_TOLERANCE)):
        mask = mask / 255
    labels = np.rint(mask)
    off = np.abs(mask - labels) > BINARY_TOLERANCE
    if off.any() or (labels < 0).any():
        raise InputError(f"{path}: not a binary mask (values such as {float(mask[off | (labels < 0)][0]):g}; "
                         "expected 0/1)")
    if labels.max(initial=0) > 1:
        raise InputError(f"{path}: label {int(labels.max())} is beyond the 2 classes 0…1 of a binary QUBIQ task")
    return labels.astype(np.int64), digest


def _child(folder: Path, name: str) -> Path | None:
    matches = [p for p in folder.iterdir() if p.is_dir() and p.name.lower() == name.lower()]
    return matches[0] if matches else None


def _cases(folder: Path, task: int, prefix: str) -> list[tuple[str, Path, dict[int, Path]]]:
    """(id, image, rater → seg file) of every case folder of ``folder`` for ``task``."""
    cases = []
    for case in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = {p.name.lower(): p for p in case.iterdir() if p.is_file()}
        segs: dict[int, Path] = {}
        for lower, path in files.items():
            match = SEG_PATTERN.fullmatch(lower)
            if match and int(match.group(1)) == task:
                segs[int(match.group(2))] = path
        image = files.get(IMAGE_FILE) or files.get("image.nii")
        if image is None and segs:
            first = segs[min(segs)]
            raise InputError(f"{first}: annotations without an image (no {IMAGE_FILE} in {case})")
        if image is None:
            continue
        if not segs:
            raise InputError(f"{image}: image without annotations (no task{task:02d}_seg*.nii.gz in {case})")
        cases.append((f"{prefix}{case.name}", image, segs))
    return cases


def discover(source: Path, task: int) -> tuple[dict[str, list[tuple[str, Path, dict[int, Path]]]], bool]:
    """The cases per part (``Training``/``Validation`` or one part ``all``) and whether the parts are given."""
    training, validation = _child(source, "Training"), _child(source, "Validation")
    if training is not None and validation is not None:
        parts = {"train": _cases(training, task, "Training/"), "test": _cases(validation, task, "Validation/")}
        given = True
    else:
        parts = {"all": _cases(source, task, "")}
        given = False
    for part, cases in parts.items():
        if not cases:
            raise InputError(f"{source}: no case folder with {IMAGE_FILE} and task{task:02d}_seg*.nii.gz"
                             + (f" in its {part} part" if given else ""))
    return parts, given


def prepare_qubiq(source: Path | str, output: Path | str, *, task: int, name: str | None = None,
                  size: int | None = None, resize: Rule = "crop", normalisation: str = "standardise", seed: int = 0,
                  overwrite: bool = False, progress: bool = False, echo: Callable[[str], None] = print
                  ) -> dict[str, Any]:
    """Prepare task ``task`` of the QUBIQ dataset at ``source`` into ``output``; return the manifest.

    On any error (one line naming the file and the problem) nothing is left at ``output``.
    """
    source = require_dir(source, "QUBIQ dataset folder")
    output = check_output(output, overwrite)
    if task < 1:
        raise InputError(f"--task must be 1 or more, got {task}")
    if resize not in ("crop", "pad", "stretch") or normalisation not in NORMALISERS:
        raise InputError(f"--resize must be crop, pad or stretch and --normalisation one of {', '.join(NORMALISERS)}; "
                         f"got {resize!r}, {normalisation!r}")
    parts, given = discover(source, task)
    raters = sorted({r for cases in parts.values() for _, _, segs in cases for r in segs})
    samples = {part: [Sample(cid, image, tuple(segs.get(r) for r in raters), cid) for cid, image, segs in cases]
               for part, cases in parts.items()}
    if given:
        assignment = split_groups({s.id: s.id for s in samples["train"]}, SplitRule(val=0.2, test=0.2, seed=seed))
        assignment = {i: ("val" if split == "val" else "train", group) for i, (split, group) in assignment.items()}
        assignment.update({s.id: ("test", s.id) for s in samples["test"]})
        origin = f"Validation = test; Training cases split into train/val (val 0.2, seed {seed})"
        pool = samples["train"] + samples["test"]
    else:
        assignment = split_groups({s.id: s.id for s in samples["all"]}, SplitRule(seed=seed))
        origin = f"cases split 60/20/20 (seed {seed})"
        pool = samples["all"]
    splits: dict[str, list[Sample]] = {split: [s for s in pool if assignment[s.id][0] == split]
                                       for split in ("train", "val", "test")}
    default = f"qubiq-{re.sub(r'[^A-Za-z0-9]+', '-', source.resolve().name).strip('-').lower()}-task{task}"
    plan = Plan(dataset_name(source, None, name or default), splits, tuple(f"seg{r:02d}" for r in raters), size,
                resize, normalisation, ("background", f"task {task}"), dict.fromkeys(SHIFT_NAMES, 1.0), "qubiq")
    echo(f"{plan.name}: {', '.join(f'{k} {len(v)}' for k, v in splits.items())} cases, {len(raters)} raters")

    def load(sample: Sample) -> Loaded:
        image, digest = read_image(sample.image)
        masks: list[np.ndarray | None] = []
        digests = [digest]
        for path in sample.masks:
            if path is not None:
                mask, mask_digest = read_mask(path)
                masks.append(mask)
                digests.append(mask_digest)
            else:
                masks.append(None)
        return image, masks, digests

    with atomic_directory(output) as tmp:
        manifest = write_plan(tmp, plan, {}, load, progress=progress,
                              extra={"split": origin, "qubiq_task": task}, source_name=source.name)
        (tmp / SPLITS_FILE).write_text(format_splits(assignment), encoding="utf-8")
    return manifest
