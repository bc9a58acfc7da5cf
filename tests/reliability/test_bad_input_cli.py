"""Bad input to every CLI entry point (docs/reliability.md): exit 2 with one clear line, no traceback; ``--debug``
shows the traceback. Commands run in-process through ``uqseg.cli.main``; the case that reaches a Lightning trainer
runs as a real process."""

from __future__ import annotations

import sys
from pathlib import Path
from re import escape as re_escape

import h5py
import numpy as np
import pytest
from prepared_fixture import make_prepared
from reliability_helpers import uqseg

from cli_runner import run_uqseg
from uqseg.cli import main

# Lightning's own start-up notices, which ``uqseg train`` leaves on stderr
LIGHTNING_NOTICES = ("GPU available", "TPU available", "💡 Tip", "/")
# cases that reach a Lightning trainer run as real processes: its logging handlers outlive pytest's captured streams
LIGHTNING_CASES = ("train: label 7 the manifest hides",)


def refused(args: list[str], monkeypatch, capsys, *named: str) -> str:
    code, _, err = run_uqseg(monkeypatch, capsys, *args)
    lines = [line for line in err.strip().splitlines() if not line.startswith(LIGHTNING_NOTICES)]
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for text in named:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def _garbage(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x01not what it claims to be" * 10)
    return path


def _retype_annotations(root: Path) -> Path:
    with h5py.File(root / "data.h5", "a") as f:
        values = f["train/annotations"][:]
        del f["train/annotations"]
        f["train/annotations"] = values.astype(np.float32)
    return root


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "image.npy"
    np.save(path, np.zeros((16, 16), np.float32))
    return path


def _train(tmp_path: Path, au: str = "ssn", eu: str = "none", root: Path | None = None) -> list[str]:
    dataset = ["--dataset", f"folder:{root}"] if root else ["--dataset", "synthetic-lidc"]
    return ["train", *dataset, "--combo", f"{au}+{eu}", "--epochs", "1", "--out", str(tmp_path / "out"),
            "--no-progress", "--preset", "tiny", "--set", "model.channel_mult=[1]",
            "--set", "model.attention_levels=[]", "--set", "train.batch_size=2"]


def _benchmark(tmp_path: Path, *extra: str) -> list[str]:
    return ["benchmark", "--preset", "tiny", "--datasets", "synthetic-lidc", "--no-progress",
            "--out", str(tmp_path / "run"), *extra]


CASES = {
    # missing paths
    "report: missing run dir": (lambda t, i: ["report", str(t / "missing")], ("missing",)),
    "predict: missing run dir": (lambda t, i: ["predict", str(t / "missing"), "--combo", "ssn+none", "--image", str(i)],
                                 ("missing",)),
    "benchmark: missing preset file": (lambda t, i: ["benchmark", "--preset", str(t / "missing.yaml")],
                                       ("missing.yaml",)),
    "data show: missing root": (lambda t, i: ["data", "show", "lidc", "--root", str(t / "missing")], ("missing",)),
    "data prepare lidc: missing source": (lambda t, i: ["data", "prepare", "lidc", "--source", str(t / "missing.h5"),
                                                        "--out", str(t / "out")], ("missing.h5",)),
    "data prepare chaksu: missing source": (lambda t, i: ["data", "prepare", "chaksu", "--source",
                                                          str(t / "missing"), "--out", str(t / "out")], ("missing",)),
    "train: missing prepared root": (lambda t, i: _train(t, root=t / "missing"), ("missing",)),
    # unreadable or corrupt files
    "report: corrupt results": (lambda t, i: ["report", str(_garbage(t / "run" / "results.parquet").parent)],
                                ("results.parquet",)),
    "benchmark: corrupt preset": (lambda t, i: ["benchmark", "--preset", str(_garbage(t / "p.yaml"))], ("p.yaml",)),
    "data show: corrupt data.h5": (lambda t, i: ["data", "show", "lidc", "--root",
                                                 str(_garbage(make_prepared(t / "d") / "data.h5").parent)],
                                   ("data.h5",)),
    "data prepare lidc: corrupt hdf5": (lambda t, i: ["data", "prepare", "lidc", "--source",
                                                      str(_garbage(t / "src.hdf5")), "--out", str(t / "out")],
                                        ("src.hdf5",)),
    # wrong dtype or shape
    "data show: float annotations": (lambda t, i: ["data", "show", "lidc", "--root",
                                                   str(_retype_annotations(make_prepared(t / "d")))], ("dtype",)),
    # annotation values outside the class range
    "data show: label 7 of 2 classes": (lambda t, i: ["data", "show", "lidc", "--root",
                                                      str(make_prepared(t / "d", label=7))], ("7",)),
    "train: label 7 the manifest hides": (lambda t, i: _train(t, root=make_prepared(t / "d", label=7,
                                                                                    manifest_max_label=1)), ("7",)),
    # splits with different numbers of annotators
    "data show: test has 3 annotators": (lambda t, i: ["data", "show", "lidc", "--root",
                                                       str(make_prepared(t / "d", annotators={"test": 3}))],
                                         ("annotators",)),
    # an empty split
    "data show: empty val": (lambda t, i: ["data", "show", "lidc", "--root",
                                           str(make_prepared(t / "d", sizes={"val": 0}))], ("empty",)),
    "train: empty train": (lambda t, i: _train(t, root=make_prepared(t / "d", sizes={"train": 0})), ("empty",)),
    # unknown combination
    "train: unknown AU": (lambda t, i: _train(t, au="unet"), ("unet",)),
    "train: softmax+none": (lambda t, i: _train(t, au="softmax", eu="none"), ("softmax",)),
    "evaluate: unknown EU": (lambda t, i: ["evaluate", "--dataset", "synthetic-lidc", "--combo", "ssn+bagging",
                                           "--epochs", "1", "--out", str(t / "out")], ("bagging",)),
    "predict: softmax+none": (lambda t, i: ["predict", str(t), "--combo", "softmax+none", "--image", str(i)],
                              ("softmax+none",)),
    "benchmark: softmax+none": (lambda t, i: _benchmark(t, "--combos", "softmax+none"), ("softmax+none",)),
    "models: --channel-mult not integers": (lambda t, i: ["models", "--channel-mult", "1,two"], ("--channel-mult",)),
    "benchmark: unknown dataset": (lambda t, i: ["benchmark", "--preset", "tiny", "--datasets", "mnist",
                                                 "--out", str(t / "run")], ("mnist",)),
}


def _npy(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line(case: str, tmp_path: Path, image: Path, monkeypatch, capsys) -> None:
    make_args, named = CASES[case]
    monkeypatch.chdir(tmp_path)
    if case not in LIGHTNING_CASES:
        refused(make_args(tmp_path, image), monkeypatch, capsys, *named)
        assert case.startswith("data prepare") or not (tmp_path / "out").exists()  # refused before creating it
        return
    proc = uqseg(make_args(tmp_path, image), cwd=tmp_path)  # Lightning's logging needs a real stderr
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith(LIGHTNING_NOTICES)]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: ") and all(text in lines[0] for text in named), lines[0]


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "argv", ["uqseg", "--debug", "report", str(tmp_path / "missing")])
    from uqseg.errors import InputError

    with pytest.raises(InputError, match="missing"):
        main()



USER_IMAGES = {
    "corrupt.png": _garbage,
    "four_d.npy": lambda p: _npy(p, np.zeros((2, 3, 4, 5), np.float32)),
    "complex.npy": lambda p: _npy(p, np.zeros((8, 8), np.complex64)),
    "nan.npy": lambda p: _npy(p, np.full((8, 8), np.nan, np.float32)),
    "object.npy": lambda p: _npy(p, np.array([{"a": 1}], dtype=object)),
    "one_pixel.npy": lambda p: _npy(p, np.zeros((1, 1), np.float32)),
}


@pytest.mark.parametrize("name", list(USER_IMAGES))
def test_bad_user_image_for_predict(name: str, tmp_path: Path) -> None:
    """``uqseg predict --image`` reads the image before any model work; each defect is an InputError naming it."""
    from uqseg.errors import InputError
    from uqseg.inference.user_image import read_image

    path = USER_IMAGES[name](tmp_path / name)
    with pytest.raises(InputError, match=re_escape(name)):
        read_image(path)
