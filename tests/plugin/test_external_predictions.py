"""``uqseg evaluate --predictions``: samples stored in the external layout score exactly as the study scores its own
(NPZ and HDF5 round trips), and every bad file stops with one line naming the file, the split and the problem."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from external_export import export_samples, write_hdf5
from rich.console import Console

from cli_runner import run_uqseg
from uqseg.data import get_dataset
from uqseg.data.contract import Dataset
from uqseg.errors import ConfigError, InputError
from uqseg.experiments.command import benchmark_command
from uqseg.experiments.external import evaluate_external, external_combo
from uqseg.inference.external import check_external, check_probabilities, open_external
from uqseg.vocabulary import unregister_au_model

TINY = {"image_size": 16, "n_train": 8, "n_val": 4, "n_test": 4, "seed": 0}  # the tiny preset's synthetic-lidc
SPLITS = ("val", "test", "ood-noise", "ood-blur", "ood-contrast", "ood-jpeg")
VALUE_COLUMNS = ["value", "ci_low", "ci_high"]


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return get_dataset("synthetic-lidc", **TINY)


def uniform(m: int = 2, s: int = 3, n: int = 4, c: int = 2, side: int = 16) -> dict[str, np.ndarray]:
    """Valid external samples for every split of the tiny synthetic LIDC: random probabilities over C classes."""
    rng = np.random.default_rng(0)
    out = {}
    for name in SPLITS:
        raw = rng.uniform(0.05, 1, (n, m, s, c, side, side))
        out[name] = (raw / raw.sum(3, keepdims=True)).astype(np.float32)
    return out


def check_message(arrays: dict[str, np.ndarray], dataset: Dataset, message: str) -> None:
    with pytest.raises(InputError) as err:
        check_external(arrays, Path("p.npz"), dataset)
    assert str(err.value) == message and "\n" not in message


def test_layout_problems_are_one_line_each(dataset: Dataset) -> None:
    """Missing split, unknown array, wrong rank, dtype, image count, classes, size, and M/S differing by split."""
    good = uniform()
    assert check_external(good, Path("p.npz"), dataset) == (2, 3)
    check_message({k: v for k, v in good.items() if k != "ood-blur"}, dataset,
                  "predictions file p.npz: no array for split(s) ood-blur; it has ood-contrast, ood-jpeg, ood-noise, "
                  "test, val (one N×M×S×C×H×W array per split: val, test, ood-noise, ood-blur, ood-contrast, "
                  "ood-jpeg)")
    check_message({**good, "train": good["val"]}, dataset,
                  "predictions file p.npz: array(s) train are not splits of 'synthetic-lidc' (its splits: val, test, "
                  "ood-noise, ood-blur, ood-contrast, ood-jpeg)")
    check_message({**good, "test": good["test"][:, 0]}, dataset,
                  "predictions file p.npz, split 'test': shape (4, 3, 2, 16, 16) is not N×M×S×C×H×W")
    check_message({**good, "test": good["test"].astype(np.int64)}, dataset,
                  "predictions file p.npz, split 'test': dtype int64 is not a float type (class probabilities)")
    check_message({**good, "ood-noise": good["ood-noise"][:3]}, dataset,
                  "predictions file p.npz, split 'ood-noise': 3 images, the dataset's split has 4")
    check_message({**good, "val": uniform(c=3)["val"]}, dataset,
                  "predictions file p.npz, split 'val': 3 classes, the dataset has 2")
    check_message({**good, "val": good["val"][..., :8]}, dataset,
                  "predictions file p.npz, split 'val': images of 16×8, the dataset's are 16×16")
    check_message({**good, "test": uniform(s=2)["test"]}, dataset,
                  "predictions file p.npz, split 'test': M = 2, S = 2, but the first split has M = 2, S = 3")


def test_probability_problems_name_the_image() -> None:
    """NaN, a value outside [0, 1] and a C-sum away from 1 are found at the right image; float16 rounding passes."""
    good = uniform()["test"]
    check_probabilities(good.astype(np.float16).astype(np.float32), "f, split 'test'", 0)
    for index, edit, what in ((2, np.nan, "a non-finite value"), (1, 1.5, "a value outside [0, 1]"),
                              (3, -0.2, "a value outside [0, 1]")):
        bad = good.copy()
        bad[index, 1, 0, 0, 5, 9] = edit
        with pytest.raises(InputError, match=rf"^f, split 'test': {re.escape(what)} at image index {8 + index}$"):
            check_probabilities(bad, "f, split 'test'", 8)
    logits = good.copy()
    logits[2] *= 0.9
    with pytest.raises(InputError, match=r"^f, split 'test': class probabilities do not sum to 1 over C at image "
                                         r"index 2$"):
        check_probabilities(logits, "f, split 'test'", 0)


def test_file_problems(tmp_path: Path) -> None:
    """Unknown suffix, a missing file, a file that is not what its suffix says; HDF5 and NPZ (compressed too)
    arrays give shape and dtype before their data is read."""
    for name, message in (("p.txt", "unknown format '.txt'; use .npz, .h5 or .hdf5"), ("p.npz", "does not exist")):
        with pytest.raises(InputError, match=f"predictions file .*{name}: {message}" if "format" in message
                           else f"predictions file .*{name} {message}"), open_external(tmp_path / name):
            pass
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(InputError, match=r"junk.h5 is not a readable HDF5 file"), open_external(tmp_path / "junk.h5"):
        pass
    with open_external(write_hdf5(tmp_path / "ok.h5", uniform())) as arrays:
        assert isinstance(arrays["test"], h5py.Dataset) and arrays["test"].shape == (4, 2, 3, 2, 16, 16)
    np.savez_compressed(tmp_path / "ok.npz", **{k: v.astype(np.float16) for k, v in uniform().items()})
    with open_external(tmp_path / "ok.npz") as arrays:
        test = arrays["test"]
        assert (test.shape, test.dtype, test.ndim) == ((4, 2, 3, 2, 16, 16), np.float16, 6)
        np.testing.assert_array_equal(test[1:3], uniform()["test"][1:3].astype(np.float16))


def test_combination_names() -> None:
    """The default name follows M; an unknown AU name becomes a label; No-EU needs M = 1."""
    try:
        assert external_combo(None, 1) == ("external", "none")
        assert external_combo(None, 4) == ("external", "ensemble")
        assert external_combo("theirnet+dropout", 4) == ("theirnet", "dropout")
        with pytest.raises(ConfigError, match=r"--combo theirnet\+none takes M = 1 instance; the file has M = 4"):
            external_combo("theirnet+none", 4)
        with pytest.raises(ConfigError, match="unknown EU method 'mc'"):
            external_combo("theirnet+mc", 4)
    finally:
        unregister_au_model("external")
        unregister_au_model("theirnet")


def test_bad_file_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A sample outside [0, 1] in an OOD split: exit status 2, one line naming file, split and image, no results."""
    arrays = uniform()
    arrays["ood-jpeg"][3, 0, 2, 1, 0, 0] = 7.0
    path = tmp_path / "theirs.npz"
    np.savez(path, **arrays)
    try:
        code, _, err = run_uqseg(monkeypatch, capsys, "evaluate", "--predictions", str(path), "--dataset",
                                 "synthetic-lidc", "--preset", "tiny", "--out", str(tmp_path / "run"),
                                 "--no-progress")
    finally:
        unregister_au_model("external")
    assert code == 2
    assert f"predictions file {path}, split 'ood-jpeg': a value outside [0, 1] at image index 3" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run" / "results.parquet").exists()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny study of ssn+dropout on synthetic-lidc (M = 2 dropout instances, S = 2 samples)."""
    out = tmp_path_factory.mktemp("study") / "run"
    benchmark_command(preset="tiny", datasets=["synthetic-lidc"], combos=["ssn+dropout"], out=out, progress=False,
                      console=Console(quiet=True))
    return out


def sorted_rows(path: Path) -> pd.DataFrame:
    table = pd.read_parquet(path)
    keys = [c for c in table.columns if c not in VALUE_COLUMNS]
    return table.sort_values(keys).reset_index(drop=True)


@pytest.mark.slow
@pytest.mark.parametrize("form", ["npz", "hdf5"])
def test_round_trip_equals_the_study(tiny_run: Path, tmp_path: Path, form: str, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The study's own samples, stored in the external layout and scored with ``uqseg evaluate --predictions``,
    give the study's rows for ssn+dropout exactly (values, bootstrap intervals, status) and a report."""
    arrays = export_samples(tiny_run, "synthetic-lidc", 0, "ssn", "dropout")
    assert {k: v.shape for k, v in arrays.items()} == {k: (4, 2, 2, 2, 16, 16) for k in SPLITS}
    path = tmp_path / "samples.npz"
    if form == "npz":
        np.savez(path, **arrays)
    else:
        path = write_hdf5(tmp_path / "samples.h5", arrays)
    code, stdout, err = run_uqseg(monkeypatch, capsys, "evaluate", "--predictions", str(path), "--dataset",
                                  "synthetic-lidc", "--combo", "ssn+dropout", "--preset", "tiny", "--out",
                                  str(tmp_path / "scored"), "--no-progress")
    assert code == 0, err
    ours, theirs = sorted_rows(tiny_run / "results.parquet"), sorted_rows(tmp_path / "scored" / "results.parquet")
    pd.testing.assert_frame_equal(ours, theirs)
    assert (tmp_path / "scored" / "report" / "index.html").is_file() and "results:" in stdout


def test_evaluate_external_on_made_up_samples(tmp_path: Path) -> None:
    """Samples from no uqseg model (uniformly random, M = 2, S = 3) are scored under ``external+ensemble``: every
    split has rows, and EU is positive where the two instances differ."""
    path = write_hdf5(tmp_path / "made_up.h5", uniform())
    try:
        layout = evaluate_external(path, "synthetic-lidc", tmp_path / "run", preset="tiny")
        results = pd.read_parquet(layout.results)
    finally:
        unregister_au_model("external")
    assert set(zip(results.au, results.eu, strict=True)) == {("external", "ensemble")}
    assert set(results.split) == set(SPLITS) - {"val"}
    with h5py.File(layout.prediction_file("synthetic-lidc", 0, "external", "ensemble", "test")) as f:
        assert f.attrs["M"] == 2 and f.attrs["S"] == 3 and float(np.min(f["eu"][:])) > 0
