"""``prepare_chaksu`` on a miniature Chákṣu tree: splits, labels, crop, orientation, loading (docs/method.md §8)."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from chaksu_fixture import COUNTS, DEVICES, raw_masks, stem
from sklearn.model_selection import KFold

from uqseg.data import get_dataset
from uqseg.data.prepare.chaksu import prepare_chaksu
from uqseg.data.prepared import open_prepared

SIZE = 128


@pytest.fixture(scope="module")
def prepared(chaksu_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("chaksu") / "out"
    lines: list[str] = []
    prepare_chaksu(chaksu_tree, out, echo=lines.append)
    assert lines == ["Chákṣu: train 4, val 2, test 2, ood 6 images; differs from the paper's 648/162/264/271"]
    return out


def read_split(out: Path, name: str) -> dict[str, np.ndarray]:
    with h5py.File(out / "data.h5", "r") as handle:
        group = handle[name]
        return {key: group[key][()] for key in group}


def parse_id(sample_id: bytes) -> tuple[str, str, int]:
    part, device, name = sample_id.decode().split("/")
    return part, device, int(name.rsplit("_", 1)[1])


def reference_labels(device: str, index: int, crop: tuple[int, int, int]) -> np.ndarray:
    """The expected K×128×128 labels, computed with OpenCV: LCC (4-connectivity), disc ∪ cup, pad, nearest."""
    top, left, size = crop
    height, width = DEVICES[device].shape
    maps = []
    for expert in range(5):
        disc, cup = (_largest_cv2(mask) for mask in raw_masks(device, index, expert))
        disc |= cup
        label = disc.astype(np.uint8) + (cup & disc).astype(np.uint8)
        padded = np.pad(label, ((size, size), (size, size)))
        window = padded[top + size:top + 2 * size, left + size:left + 2 * size]
        assert window.shape == (size, size) and height + 2 * size == padded.shape[0] and width > 0
        maps.append(cv2.resize(window, (SIZE, SIZE), interpolation=cv2.INTER_NEAREST_EXACT))
    return np.stack(maps)


def _largest_cv2(mask: np.ndarray) -> np.ndarray:
    count, labelled, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    if count <= 1:
        return mask.copy()
    return labelled == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def hand_crop(device: str, index: int) -> tuple[int, int, int]:
    """The crop from the fixture's geometry: the union bbox spans the largest disc (Expert1) and, on the left,
    Expert3's cup (radius 10, centred 2 px inside Expert1's disc edge)."""
    spec = DEVICES[device]
    cy, cx, r = spec.disc_centre[0] + index, spec.disc_centre[1] - index, spec.disc_radius
    size = {"Bosch": 451, "Forus": 650, "Remidio": 896}[device]
    centre_y, centre_x = cy, ((cx - r - 8) + (cx + r)) / 2
    return round(centre_y - size / 2), round(centre_x - size / 2), size


def test_splits_follow_kfold_and_devices(prepared: Path) -> None:
    remidio = [stem("Train", "Remidio", i) for i in range(COUNTS[("Train", "Remidio")])]
    train_idx, val_idx = next(KFold(n_splits=5, shuffle=True, random_state=123).split(remidio))
    ids = {name: [i.decode() for i in read_split(prepared, name)["ids"]] for name in ("train", "val", "test", "ood")}
    assert ids["train"] == [f"Train/Remidio/{remidio[i]}" for i in train_idx]
    assert ids["val"] == [f"Train/Remidio/{remidio[i]}" for i in val_idx]
    assert ids["test"] == [f"Test/Remidio/{stem('Test', 'Remidio', i)}" for i in range(2)]
    ood = [f"{part}/{device}/{stem(part, device, i)}" for part in ("Train", "Test") for device in ("Bosch", "Forus")
           for i in range(COUNTS[(part, device)])]
    assert ids["ood"] == ood
    assert len(ids["train"]) == 4 and len(ids["val"]) == 2 and len(set(ids["train"]) | set(ids["val"])) == 6


@pytest.mark.parametrize("split", ["train", "test", "ood"])
def test_labels_equal_an_independent_reference(prepared: Path, split: str) -> None:
    data = read_split(prepared, split)
    for sample_id, labels, crop in zip(data["ids"], data["annotations"], data["crops"], strict=True):
        _, device, index = parse_id(sample_id)
        assert tuple(crop) == hand_crop(device, index)
        np.testing.assert_array_equal(labels, reference_labels(device, index, tuple(crop)))


def test_largest_component_kept_and_cup_inside_disc(prepared: Path) -> None:
    data = read_split(prepared, "ood")
    for sample_id, labels, (top, left, size) in zip(data["ids"], data["annotations"], data["crops"], strict=True):
        _, device, index = parse_id(sample_id)
        spec = DEVICES[device]
        for label in labels:
            count, _ = cv2.connectedComponents((label > 0).astype(np.uint8), connectivity=8)
            assert count == 2  # background + one disc: Expert 2's stray blob is gone
        blob_y, blob_x = ((spec.shape[0] - 12 - top) * SIZE / size, (12 - left) * SIZE / size)
        assert labels[1, int(blob_y), int(blob_x)] == 0
        # Expert3's cup protrudes left of its disc: after disc := disc ∪ cup it is cup inside the disc
        cy, cx = spec.disc_centre[0] + index, spec.disc_centre[1] - index - spec.disc_radius - 4
        assert labels[2, int((cy - top) * SIZE / size), int((cx - left) * SIZE / size)] == 2
        raw_disc, raw_cup = raw_masks(device, index, 2)
        assert raw_cup[cy, cx] and not raw_disc[cy, cx]


def test_crop_is_centred_on_the_disc_union(prepared: Path) -> None:
    for split in ("train", "val", "test", "ood"):
        for labels in read_split(prepared, split)["annotations"]:
            union = (labels > 0).any(axis=0)
            rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
            assert abs((rows[0] + rows[-1]) / 2 - (SIZE - 1) / 2) <= 1.0
            assert abs((cols[0] + cols[-1]) / 2 - (SIZE - 1) / 2) <= 1.0


def test_orientation_is_preserved(prepared: Path) -> None:
    for split in ("train", "test", "ood"):
        data = read_split(prepared, split)
        for sample_id, image, labels, (top, left, size) in zip(data["ids"], data["images"], data["annotations"],
                                                               data["crops"], strict=True):
            _, device, _ = parse_id(sample_id)
            spec = DEVICES[device]
            # the cup sits up and to the left of the disc centre, by the fixture's offset scaled to 128
            disc_y, disc_x = np.argwhere(labels[0] > 0).mean(axis=0)
            cup_y, cup_x = np.argwhere(labels[0] == 2).mean(axis=0)
            scale = SIZE / size
            assert cup_y - disc_y == pytest.approx(spec.cup_offset[0] * scale, abs=1.0)
            assert cup_x - disc_x == pytest.approx(spec.cup_offset[1] * scale, abs=1.0)
            # red ramps along columns and green along rows inside the image part of the crop
            r0, r1 = int(np.ceil(-top * scale)) + 2, int((spec.shape[0] - top) * scale) - 2
            c0, c1 = int(np.ceil(-left * scale)) + 2, int((spec.shape[1] - left) * scale) - 2
            rows, cols = np.mgrid[r0:r1, c0:c1]
            red, green = image[0, r0:r1, c0:c1].ravel(), image[1, r0:r1, c0:c1].ravel()
            assert np.corrcoef(red, cols.ravel())[0, 1] > 0.99 and abs(np.corrcoef(red, rows.ravel())[0, 1]) < 0.05
            assert np.corrcoef(green, rows.ravel())[0, 1] > 0.99 and abs(np.corrcoef(green, cols.ravel())[0, 1]) < 0.05
            # the blue marker (Expert1's disc) lies where Expert1's label says disc
            marker, disc = image[2] > 0.5, labels[0] > 0
            assert (marker & disc).sum() / (marker | disc).sum() > 0.85


def test_loads_through_the_contract(prepared: Path) -> None:
    dataset = get_dataset("chaksu", root=prepared)
    assert dataset.split_names == open_prepared(prepared, "chaksu", verify=True).split_names
    assert dataset.info.num_classes == 3 and dataset.info.num_annotators == 5 and dataset.info.in_channels == 3
    assert dataset.info.ood_splits == ("ood",) and dataset.info.image_size == (SIZE, SIZE)
    sample = dataset.split("test")[1]
    assert sample["image"].shape == (3, SIZE, SIZE) and sample["annotations"].dtype == np.int64
    assert abs(sample["image"].mean()) < 1e-5 and sample["image"].std() == pytest.approx(1.0, abs=1e-4)
    batch = next(dataset.split("ood").batches(4))
    np.testing.assert_array_equal(batch["annotations"], read_split(prepared, "ood")["annotations"][:4])
