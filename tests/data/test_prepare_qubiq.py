"""``prepare_qubiq`` on miniature QUBIQ trees written with nibabel: orientation, raters, splits, bad files."""

from __future__ import annotations

from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest
from prepare_folder_fixture import SIDE, image_value, mask_value

from uqseg.data import get_dataset
from uqseg.data.contract import ABSENT
from uqseg.data.prepare.qubiq import prepare_qubiq
from uqseg.errors import InputError


def _save(path: Path, rows_cols: np.ndarray, dtype: type = np.float32) -> None:
    """Save an H×W (or H×W×C) array as NIfTI with voxel axes (x, y): the array is transposed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.swapaxes(rows_cols, 0, 1).astype(dtype), np.eye(4)), str(path))


def build_qubiq(root: Path, *, parts: tuple[str, ...] = ("Training", "Validation"), cases: int = 5,
                raters: int = 3, missing: dict[str, set[int]] | None = None) -> Path:
    """Case folders with image.nii.gz (image_value(i) × 1000) and task01/task02 masks; ``missing`` maps a case
    id to the raters (1-based) without a task01 mask. Image index i counts cases over the parts."""
    missing = missing or {}
    i = 0
    for part in parts:
        for c in range(cases):
            case = root / part / f"case{c:02d}"
            _save(case / "image.nii.gz", image_value(i) * 1000)
            for r in range(1, raters + 1):
                if r in missing.get(f"{part}/case{c:02d}", set()):
                    continue
                scale = 255 if r == 2 else 1
                _save(case / f"task01_seg{r:02d}.nii.gz", mask_value(i, r - 1) * scale, np.uint8)
                _save(case / f"task02_seg{r:02d}.nii.gz", np.zeros((SIDE, SIDE)), np.uint8)
            i += 1
    return root


def _raw(out: Path, split: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    with h5py.File(out / "data.h5", "r") as handle:
        return (handle[split]["images"][:], handle[split]["annotations"][:],
                [v.decode() for v in handle[split]["ids"][:]])


def test_training_validation_tree_orientation_and_absent_raters(tmp_path: Path) -> None:
    source = build_qubiq(tmp_path / "prostate", missing={"Training/case01": {3}})
    out = tmp_path / "out"
    manifest = prepare_qubiq(source, out, task=1, echo=lambda line: None)
    assert manifest["dataset"] == "qubiq-prostate-task1" and manifest["source_format"] == "qubiq"
    assert manifest["raters"] == ["seg01", "seg02", "seg03"] and manifest["num_classes"] == 2
    assert [manifest["splits"][s]["count"] for s in ("train", "val", "test")] == [4, 1, 5]
    assert sorted(s for s in manifest["splits"] if s.startswith("ood")) == ["ood-blur", "ood-contrast", "ood-jpeg",
                                                                           "ood-noise"]
    for split in ("train", "val", "test"):
        images, annotations, ids = _raw(out, split)
        for row, case_id in enumerate(ids):
            part, case = case_id.split("/")
            i = int(case[4:]) + (5 if part == "Validation" else 0)
            assert (split == "test") == (part == "Validation")
            np.testing.assert_allclose(images[row, 0], image_value(i) * 1000, rtol=1e-6)
            for r in range(3):
                if case_id == "Training/case01" and r == 2:
                    assert (annotations[row, r] == 255).all()
                else:
                    np.testing.assert_array_equal(annotations[row, r], mask_value(i, r))
    dataset = get_dataset("qubiq-prostate-task1", root=str(out))
    loaded = [dataset.split(s)[r]["annotations"] for s in ("train", "val") for r in range(len(dataset.split(s)))]
    assert sum(bool((a == ABSENT).all(axis=(1, 2)).any()) for a in loaded) == 1


def test_flat_tree_and_a_second_task(tmp_path: Path) -> None:
    source = build_qubiq(tmp_path / "kidney", parts=("",), cases=10, raters=2)
    out = tmp_path / "out"
    manifest = prepare_qubiq(source, out, task=2, name="kidney-empty", echo=lambda line: None)
    assert manifest["dataset"] == "kidney-empty"
    assert [manifest["splits"][s]["count"] for s in ("train", "val", "test")] == [6, 2, 2]
    assert manifest["splits"]["train"]["max_label"] == 0
    ids = {split: set(_raw(out, split)[2]) for split in ("train", "val", "test")}
    assert not (ids["train"] & ids["val"]) and not (ids["train"] & ids["test"]) and not (ids["val"] & ids["test"])


def test_multichannel_image_and_resize(tmp_path: Path) -> None:
    source = tmp_path / "tumour"
    for c in range(4):
        case = source / f"case{c}"
        _save(case / "image.nii.gz", np.stack([image_value(c), 1 - image_value(c), image_value(c) ** 2,
                                               image_value(c) * 0], -1))
        _save(case / "task01_seg01.nii.gz", mask_value(c, 0), np.uint8)
    out = tmp_path / "out"
    manifest = prepare_qubiq(source, out, task=1, size=16, resize="stretch", echo=lambda line: None)
    assert manifest["stored_channels"] == 4 and manifest["image_size"] == [16, 16]


@pytest.mark.parametrize("problem", ["no-image", "no-masks", "not-binary", "size", "label-2"])
def test_bad_qubiq_files(tmp_path: Path, problem: str) -> None:
    source = build_qubiq(tmp_path / "bad", parts=("",), cases=4, raters=2)
    case = source / "case02"
    if problem == "no-image":
        (case / "image.nii.gz").unlink()
        pattern = r"case02/task01_seg01\.nii\.gz: annotations without an image"
    elif problem == "no-masks":
        for r in (1, 2):
            (case / f"task01_seg{r:02d}.nii.gz").unlink()
        pattern = r"case02/image\.nii\.gz: image without annotations"
    elif problem == "not-binary":
        _save(case / "task01_seg01.nii.gz", np.full((SIDE, SIDE), 0.5))
        pattern = r"case02/task01_seg01\.nii\.gz: not a binary mask"
    elif problem == "size":
        _save(case / "task01_seg02.nii.gz", np.zeros((SIDE, SIDE - 2)), np.uint8)
        pattern = r"case02/task01_seg02\.nii\.gz: size 32×30 differs from its image"
    else:
        _save(case / "task01_seg02.nii.gz", np.full((SIDE, SIDE), 2), np.uint8)
        pattern = r"case02/task01_seg02\.nii\.gz: label 2 is beyond the 2 classes"
    out = tmp_path / "out"
    with pytest.raises(InputError, match=pattern):
        prepare_qubiq(source, out, task=1, echo=lambda line: None)
    assert not out.exists()
