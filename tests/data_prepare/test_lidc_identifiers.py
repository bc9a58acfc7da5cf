"""Identifiers of the prepared LIDC data (docs/datasets.md): the HDF5 files' per-slice series hashes (``uids``)
are kept as ``series`` when present, slice ids are positions, and the manifest says which; the pickle keeps its
keys and patients."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from lidc_fixture import write_hdf5, write_metadata, write_pickle

from uqseg.data.prepare.lidc import prepare_lidc
from uqseg.errors import InputError

OOD = ("ood-noise", "ood-blur", "ood-contrast", "ood-jpeg")


def strings(handle: h5py.File, key: str) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in handle[key][()]]


@pytest.mark.parametrize("layout", ["phiseg", "ccdm"])
def test_hdf5_series_hashes_are_kept_and_crossings_counted(tmp_path: Path, layout: str) -> None:
    expected = write_hdf5(tmp_path / "lidc.hdf5", layout, uids=True)
    messages: list[str] = []
    manifest = prepare_lidc(tmp_path / "lidc.hdf5", tmp_path / "out", echo=messages.append)
    # brute force: the splits each series hash occurs in
    splits_of: dict[int, set[str]] = {}
    for name, (_, _, hashes) in expected.items():
        for value in hashes:
            splits_of.setdefault(int(value), set()).add(name)
    crossing = sum(len(v) > 1 for v in splits_of.values())
    assert crossing > 0  # the fixture cuts the slice list, so the check has something to find
    assert manifest["series_across_splits"] == crossing
    assert any(f"{crossing} of {len(splits_of)} series" in m for m in messages)
    assert "positions" in manifest["identifiers"]["ids"] and "uids" in manifest["identifiers"]["series"]
    on_disk = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert on_disk["identifiers"] == manifest["identifiers"]
    with h5py.File(tmp_path / "out" / "data.h5", "r") as handle:
        for name, (_, _, hashes) in expected.items():
            assert strings(handle, f"{name}/series") == [str(int(v)) for v in hashes]
            assert strings(handle, f"{name}/ids") == [f"{name}/{i:05d}" for i in range(len(hashes))]
        for name in OOD:
            assert strings(handle, f"{name}/series") == strings(handle, "test/series")


def test_hdf5_without_uids_says_ids_are_positional(tmp_path: Path) -> None:
    write_hdf5(tmp_path / "lidc.hdf5", "phiseg")
    manifest = prepare_lidc(tmp_path / "lidc.hdf5", tmp_path / "out", echo=lambda _: None)
    assert manifest["identifiers"]["series"].startswith("absent")
    assert "series_across_splits" not in manifest
    with h5py.File(tmp_path / "out" / "data.h5", "r") as handle:
        assert "series" not in handle["train"] and strings(handle, "val/ids")[0] == "val/00000"


def test_hdf5_uids_in_some_splits_only_are_not_used(tmp_path: Path) -> None:
    write_hdf5(tmp_path / "lidc.hdf5", "ccdm", uids=True)
    with h5py.File(tmp_path / "lidc.hdf5", "a") as handle:
        del handle["val/uids"]
    manifest = prepare_lidc(tmp_path / "lidc.hdf5", tmp_path / "out", echo=lambda _: None)
    assert manifest["identifiers"]["series"].startswith("absent")


@pytest.mark.parametrize("bad", [np.zeros(3, dtype=np.int64), np.zeros(20, dtype=np.float64)])
def test_malformed_uids_are_refused_naming_the_dataset(tmp_path: Path, bad: np.ndarray) -> None:
    write_hdf5(tmp_path / "lidc.hdf5", "phiseg", uids=True)
    with h5py.File(tmp_path / "lidc.hdf5", "a") as handle:
        del handle["train/uids"]
        handle["train"].create_dataset("uids", data=bad)
    with pytest.raises(InputError, match=r"train/uids"):
        prepare_lidc(tmp_path / "lidc.hdf5", tmp_path / "out", echo=lambda _: None)
    assert not (tmp_path / "out").exists()


def test_pickle_manifest_names_its_identifiers(tmp_path: Path) -> None:
    source, metadata = write_pickle(tmp_path / "lidc.pickle"), write_metadata(tmp_path / "meta.csv")
    manifest = prepare_lidc(source, tmp_path / "out", metadata=metadata, trust_pickle=True, echo=lambda _: None)
    assert "<patient>_<slice>" in manifest["identifiers"]["ids"] and "Subject ID" in manifest["identifiers"]["patients"]
