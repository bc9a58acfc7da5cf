"""``prepare_folder`` on miniature folders: formats, orientation, absent raters, splits, groups, dataset.yaml, OOD."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image
from prepare_folder_fixture import SIDE, build_folder, image_value, mask_value, sample_index, write_image

from uqseg.data import get_dataset
from uqseg.data.contract import ABSENT
from uqseg.data.prepare.folder import prepare_folder
from uqseg.data.prepared import open_prepared

KINDS = ("png8", "png16", "tiff", "npy", "tiff16")


def _prepare(source: Path, out: Path, **kwargs: object) -> dict:
    lines: list[str] = []
    manifest = prepare_folder(source, out, echo=lines.append, **kwargs)
    assert len(lines) == 1
    return manifest


def _raw(out: Path, split: str) -> dict[str, np.ndarray]:
    with h5py.File(out / "data.h5", "r") as handle:
        group = handle[split]
        return {"images": group["images"][:], "annotations": group["annotations"][:],
                "ids": np.array([v.decode() for v in group["ids"][:]]),
                "groups": np.array([v.decode() for v in group["groups"][:]])}


@pytest.fixture(scope="module")
def grey(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """PNG 8-bit, 16-bit PNG, TIFF, .npy and 16-bit TIFF images; r2 misses images 0 and 3, r3 misses image 5."""
    base = tmp_path_factory.mktemp("grey")
    source = build_folder(base / "grey-set", kinds=KINDS, missing={"r2": {0, 3}, "r3": {5}})
    out = base / "out"
    return out, _prepare(source, out)


def test_every_grey_format_is_read_in_its_orientation(grey: tuple[Path, dict]) -> None:
    out, manifest = grey
    assert manifest["dataset"] == "grey-set" and manifest["stored_channels"] == 1
    assert manifest["image_size"] == [SIDE, SIDE] and manifest["num_classes"] == 2
    tolerance = {"png8": 0.5 / 255, "png16": 0.5 / 65535, "tiff": 0.5 / 255, "npy": 1e-7, "tiff16": 0.5 / 65535}
    seen = 0
    for split in ("train", "val", "test"):
        raw = _raw(out, split)
        for row, sample_id in enumerate(raw["ids"]):
            i = sample_index(sample_id)
            np.testing.assert_allclose(raw["images"][row, 0], image_value(i), atol=tolerance[KINDS[i % len(KINDS)]])
            assert raw["images"][row, 0, 4, 2] > 0.9 and raw["images"][row, 0, 4, SIDE - 3] < 0.9  # block top-left
            seen += 1
    assert seen == 12


def test_absent_raters_are_recorded_and_loaded_as_absent(grey: tuple[Path, dict]) -> None:
    out, manifest = grey
    assert manifest["raters"] == ["r1", "r2", "r3"]
    assert manifest["missing_annotations"] == {"r1": 0, "r2": 2, "r3": 1}
    assert sum(n for split in ("train", "val", "test") for k, n in manifest["annotators_per_image"][split].items()
               if k == "2") == 3
    dataset = open_prepared(out, "grey-set")
    for split in ("train", "val", "test"):
        part = dataset.split(split)
        ids = _raw(out, split)["ids"]
        for row in range(len(part)):
            i = sample_index(ids[row])
            annotations = part[row]["annotations"]
            for k, rater in enumerate(("r1", "r2", "r3")):
                gone = (rater == "r2" and i in (0, 3)) or (rater == "r3" and i == 5)
                if gone:
                    assert (annotations[k] == ABSENT).all()
                else:
                    np.testing.assert_array_equal(annotations[k], mask_value(i, k))


def test_automatic_split_keeps_groups_apart_and_is_written(grey: tuple[Path, dict]) -> None:
    out, _ = grey
    split_of: dict[str, str] = {}
    for split in ("train", "val", "test"):
        raw = _raw(out, split)
        assert len(raw["ids"]) > 0
        for sample_id, group in zip(raw["ids"], raw["groups"], strict=True):
            assert group == sample_id.split("/")[0]
            assert split_of.setdefault(group, split) == split
    with open(out / "splits.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["id"]: r["split"] for r in rows} == {i: split_of[i.split("/")[0]] for i in (r["id"] for r in rows)}
    assert len(rows) == 12


def test_the_split_is_reproducible_and_seeded(tmp_path: Path, grey: tuple[Path, dict]) -> None:
    source = build_folder(tmp_path / "again", patients=10, slices=1, kinds=("npy",))
    first = _prepare(source, tmp_path / "a")
    second = _prepare(source, tmp_path / "b")
    assert (tmp_path / "a" / "splits.csv").read_text() == (tmp_path / "b" / "splits.csv").read_text()
    assert first["splits"]["test"]["count"] == 2 and first["splits"]["val"]["count"] == 2
    tables = set()
    for seed in range(4):
        (source / "dataset.yaml").write_text(f"split: {{val: 0.2, test: 0.2, seed: {seed}}}\n")
        _prepare(source, tmp_path / f"s{seed}")
        tables.add((tmp_path / f"s{seed}" / "splits.csv").read_text())
    assert len(tables) > 1
    assert second["split"].startswith("group split")


def test_given_splits_csv_and_group_column_are_used(tmp_path: Path) -> None:
    source = build_folder(tmp_path / "given", patients=3, slices=2, kinds=("png8",))
    rows = ["id,split,group", "p0/s0,train,a", "p0/s1,train,a", "p1/s0,val,b", "p1/s1,test,c", "p2/s0,train,d",
            "p2/s1,train,d"]
    (source / "splits.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    manifest = _prepare(source, out)
    assert [manifest["splits"][s]["count"] for s in ("train", "val", "test")] == [4, 1, 1]
    assert list(_raw(out, "test")["ids"]) == ["p1/s1"] and list(_raw(out, "test")["groups"]) == ["c"]
    assert manifest["split"] == str(source / "splits.csv")


def test_group_pattern_groups_ids(tmp_path: Path) -> None:
    source = tmp_path / "flat"
    for i in range(8):
        write_image(source / "images" / f"P{i // 2}_{i % 2}", image_value(i), "png8")
        (source / "annotations" / "a").mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask_value(i, 0)).save(source / "annotations" / "a" / f"P{i // 2}_{i % 2}.png")
    (source / "dataset.yaml").write_text("group_pattern: '^(P\\d+)_'\nname: flat-named\n")
    out = tmp_path / "out"
    manifest = _prepare(source, out)
    assert manifest["dataset"] == "flat-named" and manifest["num_annotators"] == 1
    for split in ("train", "val", "test"):
        raw = _raw(out, split)
        assert all(g == i.split("_")[0] for i, g in zip(raw["ids"], raw["groups"], strict=True))


def test_rgb_formats_and_imagenet_normalisation(tmp_path: Path) -> None:
    source = build_folder(tmp_path / "rgb", kinds=("jpeg-rgb", "png-rgb", "npy-rgb"), classes=3)
    (source / "dataset.yaml").write_text("classes: [background, rim, cup]\nnormalisation: imagenet\n")
    out = tmp_path / "out"
    manifest = _prepare(source, out)
    assert manifest["stored_channels"] == 3 and manifest["in_channels"] == 3 and manifest["num_classes"] == 3
    assert manifest["class_names"] == ["background", "rim", "cup"]
    for split in ("train", "val", "test"):
        raw = _raw(out, split)
        for row, sample_id in enumerate(raw["ids"]):
            i = sample_index(sample_id)
            value = image_value(i)
            expected = np.stack([value, value * 0.5, 1 - value])
            if i % 3 == 0:  # JPEG is lossy, above all at the block's sharp edges
                assert np.abs(raw["images"][row] - expected).mean() < 0.03
            else:
                np.testing.assert_allclose(raw["images"][row], expected, atol=0.5 / 255 + 1e-6)
            assert raw["images"][row, 0, 4, 2] > 0.85 > raw["images"][row, 0, 4, SIDE - 3]  # block top-left
            assert raw["images"][row, 0, 20, SIDE - 2] > raw["images"][row, 0, 20, 1] + 0.3  # ramp along x
            assert raw["annotations"][row, 0, 21, 25] == 2
    dataset = get_dataset("rgb", root=str(out))
    image = dataset.split("train")[0]["image"]
    mean = np.array([0.485, 0.456, 0.406])[:, None, None]
    std = np.array([0.229, 0.224, 0.225])[:, None, None]
    np.testing.assert_allclose(image, (_raw(out, "train")["images"][0] - mean) / std, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("rule", "size", "source", "expected"), [
    ("crop", 16, (2, 8), (2, 0)),      # the centred 16×16 square keeps columns 8…23
    ("pad", 32, (2, 1), (10, 1)),      # 8 zero rows above and below
    ("stretch", 16, (2, 1), (2, 0)),   # columns halve, rows stay
])
def test_resize_rules_on_non_square_images(tmp_path: Path, rule: str, size: int, source: tuple[int, int],
                                           expected: tuple[int, int]) -> None:
    """16×32 images (rows × columns) with one marked pixel, brought to a square by each rule."""
    folder = tmp_path / "wide"
    (folder / "images").mkdir(parents=True)
    (folder / "annotations" / "r").mkdir(parents=True)
    for i in range(6):
        image = np.zeros((16, 32), dtype=np.uint8)
        image[source] = 200
        Image.fromarray(image).save(folder / "images" / f"c{i}.png")
        Image.fromarray((image > 0).astype(np.uint8)).save(folder / "annotations" / "r" / f"c{i}.png")
    (folder / "dataset.yaml").write_text(f"size: {size}\nresize: {rule}\nnormalisation: none\n")
    out = tmp_path / "out"
    manifest = _prepare(folder, out)
    assert manifest["image_size"] == [size, size] and manifest["resize"] == {"size": size, "rule": rule}
    raw = _raw(out, "train")
    labels, image = raw["annotations"][0, 0], raw["images"][0, 0]
    assert labels[expected] == 1 and labels.sum() == 1
    assert np.unravel_index(image.argmax(), image.shape) == expected


def test_masks_as_palette_16_bit_and_npy(tmp_path: Path) -> None:
    raters = ("a-palette", "b-16-bit", "c-npy")  # sorted, as the annotator axis is
    source = build_folder(tmp_path / "masks", kinds=("png8",), raters=raters, classes=3)
    for rater in raters:
        for path in sorted((source / "annotations" / rater).rglob("*.png")):
            labels = np.asarray(Image.open(path))
            if rater == "a-palette":
                picture = Image.fromarray(labels, mode="P")
                picture.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0])
                picture.save(path)
            elif rater == "b-16-bit":
                Image.fromarray(labels.astype(np.uint16)).save(path)
            else:
                path.unlink()
                np.save(path.with_suffix(".npy"), labels.astype(np.int32))
    out = tmp_path / "out"
    _prepare(source, out)
    raw = _raw(out, "train")
    for row, sample_id in enumerate(raw["ids"]):
        for k in range(3):
            np.testing.assert_array_equal(raw["annotations"][row, k], mask_value(sample_index(sample_id), k, 3))


def test_label_values_map_stored_values(tmp_path: Path) -> None:
    source = build_folder(tmp_path / "mapped", kinds=("png8",), raters=("only",))
    for path in (source / "annotations" / "only").rglob("*.png"):
        Image.fromarray(np.asarray(Image.open(path)) * 255).save(path)
    (source / "dataset.yaml").write_text("label_values: {0: 0, 255: 1}\nclasses: [bg, fg]\n")
    out = tmp_path / "out"
    _prepare(source, out)
    raw = _raw(out, "test")
    np.testing.assert_array_equal(raw["annotations"][0, 0], mask_value(sample_index(raw["ids"][0]), 0))


def test_real_ood_sets_replace_the_synthetic_shifts(tmp_path: Path) -> None:
    source = build_folder(tmp_path / "with-ood", kinds=("png8",))
    build_folder(source / "ood" / "site-b", kinds=("png8",), patients=2, raters=("r1", "r3"))
    out = tmp_path / "out"
    manifest = _prepare(source, out)
    assert [s for s in manifest["splits"] if s.startswith("ood")] == ["ood-site-b"]
    assert manifest["splits"]["ood-site-b"]["count"] == 4
    raw = _raw(out, "ood-site-b")
    assert (raw["annotations"][:, 1] == 255).all() and (raw["annotations"][:, 0] != 255).all()
    dataset = get_dataset("with-ood", root=str(out))
    assert dataset.info.ood_splits == ("ood-site-b",)


def test_synthetic_shifts_copy_the_test_split(grey: tuple[Path, dict]) -> None:
    out, manifest = grey
    assert manifest["ood"]["shifts"] == {"noise": 1.0, "blur": 1.0, "contrast": 1.0, "jpeg": 1.0}
    test = _raw(out, "test")
    for shift in ("noise", "blur", "contrast", "jpeg"):
        copy = _raw(out, f"ood-{shift}")
        np.testing.assert_array_equal(copy["annotations"], test["annotations"])
        assert list(copy["ids"]) == list(test["ids"])
        assert not np.array_equal(copy["images"], test["images"])


def test_manifest_is_complete_json(grey: tuple[Path, dict]) -> None:
    out, _ = grey
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["source_format"] == "folder"
