"""``uqseg data prepare lidc|chaksu`` through the console entry point: output, exit codes, one-line errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from lidc_fixture import write_hdf5, write_metadata, write_pickle

from cli_runner import run_uqseg as run
from uqseg.data.prepare.chaksu import prepare_chaksu


def test_prepare_lidc_hdf5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    write_hdf5(tmp_path / "data_lidc.hdf5", "phiseg")
    code, out, _ = run(monkeypatch, capsys, "data", "prepare", "lidc", "--source", str(tmp_path / "data_lidc.hdf5"),
                       "--out", str(tmp_path / "lidc"), "--no-progress")
    assert code == 0 and "train 20, val 10, test 9, ood-noise 9" in out
    code, _, err = run(monkeypatch, capsys, "data", "prepare", "lidc", "--source", str(tmp_path / "data_lidc.hdf5"),
                       "--out", str(tmp_path / "lidc"), "--no-progress")
    assert code == 2 and "already exists" in err and len(err.strip().splitlines()) == 1


def test_prepare_lidc_pickle_needs_trust(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    source, metadata = write_pickle(tmp_path / "data_lidc.pickle"), write_metadata(tmp_path / "meta.csv")
    args = ("data", "prepare", "lidc", "--source", str(source), "--metadata", str(metadata), "--out",
            str(tmp_path / "lidc"), "--no-progress")
    code, out, err = run(monkeypatch, capsys, *args)
    assert code == 2 and err.startswith("error: ") and "--trust-pickle" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "lidc").exists()
    code, out, err = run(monkeypatch, capsys, *args, "--trust-pickle")
    assert code == 0 and "reading the pickle" in out and "trusted source" in out and "wrote" in out
    assert (tmp_path / "lidc" / "split.csv").is_file()


def test_prepare_chaksu(chaksu_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(monkeypatch, capsys, "data", "prepare", "chaksu", "--source", str(tmp_path / "missing"),
                       "--out", str(tmp_path / "c"))
    assert code == 2 and "missing" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "c").exists()
    code, out, _ = run(monkeypatch, capsys, "data", "prepare", "chaksu", "--source", str(chaksu_tree), "--out",
                       str(tmp_path / "c"), "--no-progress")
    assert code == 0 and "train 4, val 2, test 2, ood 6" in out
    with h5py.File(tmp_path / "c" / "data.h5", "r") as handle:
        assert handle["ood/annotations"].shape == (6, 5, 128, 128)
        assert np.isin(handle["train/annotations"][()], (0, 1, 2)).all()


@pytest.mark.slow
def test_prepare_chaksu_workers_give_the_serial_result(chaksu_tree: Path, tmp_path: Path) -> None:
    for workers in (1, 2):
        prepare_chaksu(chaksu_tree, tmp_path / f"w{workers}", workers=workers, echo=lambda _: None)
    with h5py.File(tmp_path / "w1" / "data.h5", "r") as one, h5py.File(tmp_path / "w2" / "data.h5", "r") as two:
        for split in ("train", "val", "test", "ood"):
            for key in ("images", "annotations", "crops"):
                np.testing.assert_array_equal(one[split][key][()], two[split][key][()])
