"""``prepare_lidc`` from the pickle and both HDF5 layouts: patient split, counts, orientation, OOD copies."""

from __future__ import annotations

import csv
import json
import multiprocessing
import pickle
import random
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from lidc_fixture import NUM_PATIENTS, lidc_dict, patient_id, write_hdf5, write_metadata, write_pickle

from uqseg.data import get_dataset
from uqseg.data.prepare.lidc import prepare_lidc
from uqseg.data.prepare.lidc_sources import read_pickle
from uqseg.data.prepare.lidc_split import patient_split
from uqseg.data.prepared import IMAGENET_MEAN, IMAGENET_STD, open_prepared
from uqseg.data.shifts import SHIFT_NAMES, apply_shift
from uqseg.errors import InputError

OOD = tuple(f"ood-{name}" for name in SHIFT_NAMES)


@pytest.fixture(scope="module")
def from_pickle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("lidc")
    lines: list[str] = []
    prepare_lidc(write_pickle(root / "data_lidc.pickle"), root / "out", metadata=write_metadata(root / "meta.csv"),
                 trust_pickle=True, echo=lines.append)
    return root / "out", lines


def read_split(out: Path, name: str) -> dict[str, np.ndarray]:
    """Every column of a split, strings decoded."""
    with h5py.File(out / "data.h5", "r") as handle:
        group = handle[name]
        return {key: group[key].asstr()[()] if h5py.check_string_dtype(group[key].dtype) else group[key][()]
                for key in group}


def test_split_is_patient_level_60_20_20(from_pickle: tuple[Path, list[str]]) -> None:
    out, lines = from_pickle
    patients = {name: set(read_split(out, name)["patients"].tolist()) for name in ("train", "val", "test")}
    assert not (patients["train"] & patients["val"] or patients["train"] & patients["test"]
                or patients["val"] & patients["test"])
    assert patients["train"] | patients["val"] | patients["test"] == {patient_id(i) for i in range(NUM_PATIENTS)}
    assert [len(patients[name]) for name in ("train", "val", "test")] == [12, 4, 4]
    with open(out / "split.csv", newline="") as handle:
        table = {row["patient"]: row["split"] for row in csv.DictReader(handle)}
    assert table == {p: name for name, members in patients.items() for p in members}
    assert any("reading the pickle" in line and "trusted source" in line for line in lines)
    assert any("train " in line and "39 slices, not the paper's 15096" in line for line in lines)


def test_split_follows_the_authors_procedure() -> None:
    ids = [f"P{i:02d}" for i in range(10)]
    shuffled = sorted(ids)
    random.Random(7).shuffle(shuffled)
    test = sorted(shuffled[:2])
    rest = sorted(set(ids) - set(test))
    order = np.arange(8)
    np.random.default_rng(7).shuffle(order)
    val = sorted(rest[i] for i in order[:2])
    split = patient_split(reversed(ids), seed=7, test_ratio=0.2, num_folds=4, fold=0)
    assert sorted(p for p, s in split.items() if s == "test") == test
    assert sorted(p for p, s in split.items() if s == "val") == val
    assert sum(s == "train" for s in split.values()) == 6


def test_slice_counts_and_content_are_exact(from_pickle: tuple[Path, list[str]]) -> None:
    out, _ = from_pickle
    source = lidc_dict()
    total = 0
    for name in ("train", "val", "test"):
        data = read_split(out, name)
        total += len(data["ids"])
        for key, image, labels in zip(data["ids"], data["images"], data["annotations"],
                                      strict=True):
            np.testing.assert_array_equal(image[0], source[key]["image"])
            np.testing.assert_array_equal(labels, np.stack(source[key]["masks"]))
    assert total == len(source)


def test_loader_normalises_without_moving_pixels(from_pickle: tuple[Path, list[str]]) -> None:
    out, _ = from_pickle
    dataset = get_dataset("lidc", root=out)
    assert dataset.info.splits == ("train", "val", "test", *OOD)
    assert dataset.info.in_channels == 3 and dataset.info.num_annotators == 4 and dataset.info.num_classes == 2
    raw = read_split(out, "val")
    sample = dataset.split("val")[2]
    expected = (np.repeat(raw["images"][2], 3, axis=0) - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]
    np.testing.assert_allclose(sample["image"], expected, rtol=1e-6)
    np.testing.assert_array_equal(sample["annotations"], raw["annotations"][2])
    assert sample["image"][0, 10, 10] > sample["image"][0, 10, 120]  # bright block stays top-left


def test_ood_copies_differ_with_identical_annotations(from_pickle: tuple[Path, list[str]]) -> None:
    out, _ = from_pickle
    test = read_split(out, "test")
    for shift, name in zip(SHIFT_NAMES, OOD, strict=True):
        copy = read_split(out, name)
        np.testing.assert_array_equal(copy["annotations"], test["annotations"])
        np.testing.assert_array_equal(copy["ids"], test["ids"])
        assert (np.abs(copy["images"] - test["images"]).mean(axis=(1, 2, 3)) > 1e-3).all()
        np.testing.assert_array_equal(copy["images"], apply_shift(test["images"], shift, seed=7))


@pytest.mark.parametrize("protocol", [2, 5])
def test_pickle_protocols_read_with_real_dtypes(tmp_path: Path, protocol: int) -> None:
    slices = read_pickle(write_pickle(tmp_path / "d.pickle", protocol=protocol), True, notify=lambda _: None)
    assert len(slices) == len(lidc_dict())
    assert slices[0].image.dtype == np.float32 and slices[0].masks.shape == (4, 128, 128)


def test_both_hdf5_layouts_give_the_same_dataset(tmp_path: Path) -> None:
    outputs = {}
    for layout in ("phiseg", "ccdm"):
        expected = write_hdf5(tmp_path / f"{layout}.hdf5", layout)
        manifest = prepare_lidc(tmp_path / f"{layout}.hdf5", tmp_path / layout, echo=lambda _: None)
        assert manifest["source_format"] == f"{layout}-hdf5"
        for name, (images, masks) in expected.items():
            data = read_split(tmp_path / layout, name)
            np.testing.assert_allclose(data["images"][:, 0], images, atol=1e-6)
            np.testing.assert_array_equal(data["annotations"], masks)
        outputs[layout] = tmp_path / layout
    for name in ("train", "test", *OOD):
        a, b = read_split(outputs["phiseg"], name), read_split(outputs["ccdm"], name)
        np.testing.assert_array_equal(a["images"], b["images"])
        np.testing.assert_array_equal(a["annotations"], b["annotations"])


def _row_sum(array: object, index: int) -> float:
    return float(array[index].sum())  # type: ignore[index]


def test_lazy_arrays_survive_pickling_and_fork(from_pickle: tuple[Path, list[str]]) -> None:
    out, _ = from_pickle
    images = open_prepared(out, "lidc").split("test").images
    expected = float(images[3].sum())  # opens a handle in this process first
    assert float(pickle.loads(pickle.dumps(images))[3].sum()) == expected
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_row_sum, (images, 3)) == expected
    np.testing.assert_array_equal(images[[3, 1, 3]][0], images[3])


def test_open_prepared_refuses_wrong_or_incomplete_directories(from_pickle: tuple[Path, list[str]],
                                                              tmp_path: Path) -> None:
    out, _ = from_pickle
    with pytest.raises(InputError, match="holds dataset 'lidc', not 'chaksu'"):
        open_prepared(out, "chaksu")
    with pytest.raises(InputError, match="does not exist"):
        open_prepared(tmp_path / "absent", "lidc")
    copy = Path(shutil.copytree(out, tmp_path / "copy"))
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    (copy / "manifest.json").write_text(json.dumps({**manifest, "complete": False}), encoding="utf-8")
    with pytest.raises(InputError, match="not marked complete"):
        open_prepared(copy, "lidc")
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with h5py.File(copy / "data.h5", "a") as handle:
        handle["val/annotations"][0, 0, 0, 0] = 5
    with pytest.raises(InputError, match="annotation value 5"):
        open_prepared(copy, "lidc", verify=True)


def test_overwrite_replaces_only_on_success(tmp_path: Path) -> None:
    write_hdf5(tmp_path / "a.hdf5", "ccdm")
    prepare_lidc(tmp_path / "a.hdf5", tmp_path / "out", echo=lambda _: None)
    with pytest.raises(InputError, match="already exists"):
        prepare_lidc(tmp_path / "a.hdf5", tmp_path / "out")
    (tmp_path / "bad.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(InputError):
        prepare_lidc(tmp_path / "bad.hdf5", tmp_path / "out", overwrite=True)
    assert open_prepared(tmp_path / "out", "lidc").info.name == "lidc"
    write_hdf5(tmp_path / "b.hdf5", "phiseg")
    manifest = prepare_lidc(tmp_path / "b.hdf5", tmp_path / "out", overwrite=True, echo=lambda _: None)
    assert manifest["source_format"] == "phiseg-hdf5"
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["source_format"] == "phiseg-hdf5"


def test_split_file_reproduces_a_split(from_pickle: tuple[Path, list[str]], tmp_path: Path) -> None:
    out, _ = from_pickle
    table = tmp_path / "mine.csv"
    rows = (out / "split.csv").read_text(encoding="utf-8").splitlines()
    index = next(i for i, row in enumerate(rows) if row.endswith(",train"))
    moved = rows[index].replace(",train", ",test")  # a different, still patient-level split
    table.write_text("\n".join([*rows[:index], moved, *rows[index + 1:]]) + "\n", encoding="utf-8")
    again = tmp_path / "again"
    manifest = prepare_lidc(write_pickle(tmp_path / "d.pickle"), again,
                            metadata=write_metadata(tmp_path / "m.csv"), trust_pickle=True, split_file=table,
                            echo=lambda _: None)
    assert manifest["split"] == str(table)
    assert (again / "split.csv").read_text(encoding="utf-8") == table.read_text(encoding="utf-8")
    patient = moved.split(",")[0]
    assert patient in set(read_split(again, "test")["patients"].tolist())
