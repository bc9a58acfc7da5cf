"""Miniature LIDC-IDRI 2D sources in their exact formats, built in code (docs/method.md §8).

- the Probabilistic-UNet pickle: a dict keyed ``<patient>_<slice>``, each value a dict with ``image`` (128×128
  float32 in [0, 1]), ``masks`` (a list of 4 binary 128×128 uint8 arrays) and ``series_uid`` (str);
- the TCIA ``LIDC-IDRI_MetaData.csv`` with its ``Subject ID`` and ``Series ID`` columns (and others, including
  series that are not in the pickle);
- the PHiSeg (raters last) and CCDM (raters second) ``data_lidc.hdf5``: groups train/val/test with ``images``
  (N×128×128, shifted by −0.5) and ``labels`` (uint8).

Every image is non-symmetric (a ramp along the columns, a bright block near the top-left corner) and every rater's
mask is an L shape whose arms differ, so any flip or transpose is caught.
"""

from __future__ import annotations

import csv
import hashlib
import pickle
from pathlib import Path

import h5py
import numpy as np

SIDE = 128
NUM_PATIENTS = 20
SERIES_ROOT = "1.3.6.1.4.1.14519.5.2.1.6279.6001."


def patient_id(index: int) -> str:
    return f"LIDC-IDRI-{index * 7 + 1:04d}"


def series_uid(index: int) -> str:
    return f"{SERIES_ROOT}{100000 + index * 13}"


def slice_image(seed: int) -> np.ndarray:
    """A non-symmetric 128×128 float32 slice in [0, 1]."""
    rng = np.random.default_rng(seed)
    image = np.tile(np.linspace(0.1, 0.6, SIDE, dtype=np.float32), (SIDE, 1))
    image[8:20, 4:40] = 0.95
    image += rng.uniform(0.0, 0.05, size=(SIDE, SIDE)).astype(np.float32)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def slice_masks(seed: int) -> list[np.ndarray]:
    """Four binary uint8 L-shaped masks (rater 3 empty on odd seeds: disagreement on presence)."""
    masks = []
    for rater in range(4):
        mask = np.zeros((SIDE, SIDE), dtype=np.uint8)
        top, left = 40 + seed % 5, 50 + rater
        mask[top:top + 30, left:left + 6] = 1
        mask[top + 24:top + 30, left:left + 20 + 2 * rater] = 1
        if rater == 3 and seed % 2:
            mask[:] = 0
        masks.append(mask)
    return masks


def lidc_dict() -> dict[str, dict]:
    """The pickle's content: 1–3 slices per patient, in patient order."""
    data = {}
    for index in range(NUM_PATIENTS):
        for number in range(1 + index % 3):
            seed = index * 10 + number
            data[f"{patient_id(index)}_{number}"] = {
                "image": slice_image(seed),
                "masks": slice_masks(seed),
                "series_uid": series_uid(index),
            }
    return data


def write_pickle(path: Path, data: dict | None = None, protocol: int = pickle.HIGHEST_PROTOCOL) -> Path:
    with open(path, "wb") as handle:
        pickle.dump(lidc_dict() if data is None else data, handle, protocol=protocol)
    return path


def write_metadata(path: Path, skip: tuple[int, ...] = ()) -> Path:
    """The TCIA metadata export: one CT row per patient (and a CR row per third patient, absent from the pickle)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Series ID", "Collection", "Subject ID", "Study UID", "Modality", "Number of images"])
        for index in range(NUM_PATIENTS):
            if index in skip:
                continue
            writer.writerow([series_uid(index), "LIDC-IDRI", patient_id(index), f"{SERIES_ROOT}9{index}", "CT", 120])
            if index % 3 == 0:
                writer.writerow([f"{SERIES_ROOT}7{index}", "LIDC-IDRI", patient_id(index), "x", "CR", 1])
    return path


def series_hash(uid: str) -> int:
    """A stand-in for PHiSeg's ``hash(series_uid)``: a signed 64-bit integer per series (deterministic here)."""
    return int.from_bytes(hashlib.sha256(uid.encode()).digest()[:8], "little", signed=True)


def write_hdf5(path: Path, layout: str, raters: int = 4, uids: bool = False) -> dict[str, tuple[np.ndarray, ...]]:
    """A PHiSeg (``phiseg``: raters last) or CCDM (``ccdm``: raters second) file from the fixture's slices; returns
    the unshifted (images N×128×128, masks N×4×128×128) of each split, plus the N series hashes with ``uids``
    (then written per split as PHiSeg's ``uids``). The splits cut the slice list, so some series cross them."""
    items = list(lidc_dict().values())
    parts = {"train": items[:20], "val": items[20:30], "test": items[30:]}
    expected = {}
    with h5py.File(path, "w") as handle:
        for name, chosen in parts.items():
            images = np.stack([item["image"] for item in chosen])
            masks = np.stack([np.stack(item["masks"])[:raters] for item in chosen])
            labels = np.moveaxis(masks, 1, 3) if layout == "phiseg" else masks
            group = handle.create_group(name)
            group.create_dataset("images", data=images - 0.5)
            group.create_dataset("labels", data=labels.astype(np.uint8))
            expected[name] = (images, masks)
            if uids:
                hashes = np.array([series_hash(item["series_uid"]) for item in chosen], dtype=np.int64)
                group.create_dataset("uids", data=hashes)
                expected[name] = (images, masks, hashes)
    return expected
