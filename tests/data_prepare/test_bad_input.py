"""Bad input to the preparation commands: an InputError naming the file and the problem, and no output left."""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from chaksu_fixture import ANNOTATION_DIR, IMAGE_DIR
from lidc_fixture import lidc_dict, write_hdf5, write_metadata, write_pickle
from PIL import Image

from uqseg.data.prepare.chaksu import prepare_chaksu
from uqseg.data.prepare.lidc import prepare_lidc
from uqseg.errors import InputError

REMIDIO_MASKS = Path("Train") / ANNOTATION_DIR / "Expert4" / "Remidio"


def fails_cleanly(call: Callable[[], object], out: Path, *fragments: str) -> str:
    """Run ``call``; it must raise InputError whose message holds every fragment, leaving nothing at ``out``."""
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    assert not out.exists()
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(".tmp-")]
    return message


def _remove(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() else path.unlink()


def _grey_mask(path: Path) -> None:
    Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (420, 3))[:, :560]).save(path)


def _small_mask(path: Path) -> None:
    Image.fromarray(np.zeros((100, 100), dtype=np.uint8)).save(path)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


CHAKSU_CASES = {
    "missing device folder": (Path("Test") / IMAGE_DIR / "Forus", _remove, ("Forus", "missing")),
    "missing expert": (Path("Test") / ANNOTATION_DIR / "Expert5", _remove, ("5 expert folders",)),
    "expert lacks a mask": (REMIDIO_MASKS / "Cup" / "ReTr_00.png", _remove, ("Expert4", "Cup", "ReTr_00")),
    "mask of another shape": (REMIDIO_MASKS / "Disc" / "ReTr_00.png", _small_mask, ("ReTr_00.png", "shape")),
    "non-binary mask": (REMIDIO_MASKS / "Disc" / "ReTr_00.png", _grey_mask, ("ReTr_00.png", "not a binary mask")),
    "truncated PNG": (REMIDIO_MASKS / "Cup" / "ReTr_00.png", _truncate, ("ReTr_00.png", "not a readable image")),
    "truncated image": (Path("Train") / IMAGE_DIR / "Forus" / "FoTr_00.png", _truncate, ("FoTr_00.png",)),
}


@pytest.mark.parametrize("case", list(CHAKSU_CASES))
def test_chaksu_bad_input(chaksu_tree: Path, tmp_path: Path, case: str) -> None:
    relative, damage, fragments = CHAKSU_CASES[case]
    root = shutil.copytree(chaksu_tree, tmp_path / "CHAKSU")
    damage(root / relative)
    fails_cleanly(lambda: prepare_chaksu(root, tmp_path / "out", echo=lambda _: None), tmp_path / "out", *fragments)


def test_chaksu_image_without_masks_and_missing_root(chaksu_tree: Path, tmp_path: Path) -> None:
    root = shutil.copytree(chaksu_tree, tmp_path / "CHAKSU")
    shutil.copy(root / "Train" / IMAGE_DIR / "Forus" / "FoTr_00.png", root / "Train" / IMAGE_DIR / "Forus" / "x9.png")
    out = tmp_path / "out"
    fails_cleanly(lambda: prepare_chaksu(root, out, echo=lambda _: None), out, "x9.png", "no masks")
    fails_cleanly(lambda: prepare_chaksu(tmp_path / "nowhere", out), out, "nowhere", "does not exist")


def test_chaksu_image_without_any_disc(chaksu_tree: Path, tmp_path: Path) -> None:
    root = shutil.copytree(chaksu_tree, tmp_path / "CHAKSU")
    for mask in (root / "Test" / ANNOTATION_DIR).glob("*/Forus/*/FoTe_01.bmp"):
        Image.fromarray(np.zeros((300, 360), dtype=np.uint8)).save(mask)
    out = tmp_path / "out"
    fails_cleanly(lambda: prepare_chaksu(root, out, echo=lambda _: None), out, "FoTe_01", "disc mask is empty")


@pytest.fixture()
def lidc_files(tmp_path: Path) -> tuple[Path, Path]:
    return write_pickle(tmp_path / "data_lidc.pickle"), write_metadata(tmp_path / "meta.csv")


def _pickle_with(tmp_path: Path, change: Callable[[dict], None]) -> Path:
    data = lidc_dict()
    change(next(iter(data.values())))
    return write_pickle(tmp_path / "bad.pickle", data)


def test_lidc_missing_files_and_untrusted_pickle(tmp_path: Path, lidc_files: tuple[Path, Path]) -> None:
    source, metadata = lidc_files
    out = tmp_path / "out"
    fails_cleanly(lambda: prepare_lidc(tmp_path / "none.pickle", out, metadata=metadata, trust_pickle=True), out,
                  "none.pickle", "does not exist")
    fails_cleanly(lambda: prepare_lidc(source, out, metadata=tmp_path / "no.csv", trust_pickle=True), out,
                  "no.csv", "does not exist")
    fails_cleanly(lambda: prepare_lidc(source, out, metadata=metadata), out, "data_lidc.pickle", "--trust-pickle")


class _Payload:
    """Unpickling this calls ``open(marker, "w")``: proof that the pickle ran code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


def test_malicious_pickle_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    source = tmp_path / "evil.pickle"
    source.write_bytes(pickle.dumps({"LIDC-IDRI-0001_0": _Payload(marker)}))
    metadata, out = write_metadata(tmp_path / "meta.csv"), tmp_path / "out"
    fails_cleanly(lambda: prepare_lidc(source, out, metadata=metadata), out, "evil.pickle", "--trust-pickle")
    assert not marker.exists()
    fails_cleanly(lambda: prepare_lidc(source, out, metadata=metadata, trust_pickle=True, echo=lambda _: None), out,
                  "evil.pickle", "refusing to load the global")
    assert not marker.exists()


PICKLE_CASES = {
    "three raters": (lambda v: v.update(masks=v["masks"][:3]), "expected 4 rater masks"),
    "mask of another shape": (lambda v: v.update(masks=[m[:64] for m in v["masks"]]), "differ from the image"),
    "non-binary masks": (lambda v: v["masks"][0].__setitem__((0, 0), 2), "must be binary"),
    "no series uid": (lambda v: v.pop("series_uid"), "'series_uid'"),
}


@pytest.mark.parametrize("case", list(PICKLE_CASES))
def test_lidc_bad_pickle_content(tmp_path: Path, lidc_files: tuple[Path, Path], case: str) -> None:
    change, fragment = PICKLE_CASES[case]
    source, out = _pickle_with(tmp_path, change), tmp_path / "out"
    fails_cleanly(lambda: prepare_lidc(source, out, metadata=lidc_files[1], trust_pickle=True, echo=lambda _: None),
                  out, "bad.pickle", "LIDC-IDRI-0001_0", fragment)


def test_lidc_series_missing_from_metadata(tmp_path: Path, lidc_files: tuple[Path, Path]) -> None:
    metadata, out = write_metadata(tmp_path / "partial.csv", skip=(3,)), tmp_path / "out"
    fails_cleanly(lambda: prepare_lidc(lidc_files[0], out, metadata=metadata, trust_pickle=True, echo=lambda _: None),
                  out, "data_lidc.pickle", "not in the metadata CSV")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Patient,Series\nA,B\n", encoding="utf-8")
    fails_cleanly(lambda: prepare_lidc(lidc_files[0], out, metadata=wrong, trust_pickle=True), out, "wrong.csv",
                  "Subject ID")


def test_lidc_split_file_must_cover_every_patient(tmp_path: Path, lidc_files: tuple[Path, Path]) -> None:
    split = tmp_path / "split.csv"
    split.write_text("patient,split\nLIDC-IDRI-0001,train\n", encoding="utf-8")
    out = tmp_path / "out"
    fails_cleanly(lambda: prepare_lidc(lidc_files[0], out, metadata=lidc_files[1], trust_pickle=True,
                                       split_file=split, echo=lambda _: None), out, "split.csv", "not in the split")


def test_lidc_bad_hdf5(tmp_path: Path) -> None:
    out = tmp_path / "out"
    good = tmp_path / "good.hdf5"
    write_hdf5(good, "ccdm")
    truncated = tmp_path / "truncated.hdf5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    fails_cleanly(lambda: prepare_lidc(truncated, out), out, "truncated.hdf5")
    garbage = tmp_path / "garbage.hdf5"
    garbage.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)
    fails_cleanly(lambda: prepare_lidc(garbage, out), out, "garbage.hdf5", "not a readable HDF5")
    write_hdf5(tmp_path / "raters.hdf5", "phiseg", raters=3)
    fails_cleanly(lambda: prepare_lidc(tmp_path / "raters.hdf5", out), out, "raters.hdf5", "wrong number of raters")
    with h5py.File(tmp_path / "nonbinary.hdf5", "w") as handle:
        for name in ("train", "val", "test"):
            handle.create_dataset(f"{name}/images", data=np.zeros((6, 16, 16), dtype=np.float32))
            handle.create_dataset(f"{name}/labels", data=np.full((6, 4, 16, 16), 3, dtype=np.uint8))
    fails_cleanly(lambda: prepare_lidc(tmp_path / "nonbinary.hdf5", out), out, "nonbinary.hdf5", "not binary")
