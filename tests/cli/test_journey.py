"""A scripted journey through the command line: train → evaluate → predict with the tiny preset, predict on every
kind of user image (RGB, JPEG, palette, 16-bit, grey, non-square, .npy), then bad options and inputs, checking exit
codes and messages."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from PIL import Image

from cli_runner import run_uqseg
from uqseg.experiments.image import predict_folder

COMBO = "ssn+ensemble"
H, W = 40, 50  # non-square, not the model's 16×16


def _images(folder) -> dict[str, tuple[int, int]]:
    """Write one image of each kind into ``folder``; name → its H×W."""
    picture = np.zeros((H, W, 3), np.uint8)
    picture[5:20, 30:45] = 255
    picture[25:35, 5:15, 0] = 180
    Image.fromarray(picture).save(folder / "rgb.png")
    Image.fromarray(picture).save(folder / "photo.jpg", quality=90)
    Image.fromarray(picture).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(folder / "palette.png")
    Image.fromarray(picture[..., 0].astype(np.uint16) * 257).save(folder / "deep.png")  # 16-bit grey
    Image.fromarray(picture[..., 0]).save(folder / "grey.png")
    np.save(folder / "chw.npy", picture.transpose(2, 0, 1).astype(np.float32))
    np.save(folder / "hw.npy", picture[..., 0].astype(np.float32))
    tall = np.ascontiguousarray(picture.transpose(1, 0, 2))
    Image.fromarray(tall).save(folder / "tall.png")
    return {"rgb.png": (H, W), "photo.jpg": (H, W), "palette.png": (H, W), "deep.png": (H, W), "grey.png": (H, W),
            "chw.npy": (H, W), "hw.npy": (H, W), "tall.png": (W, H)}


@pytest.mark.slow
def test_train_evaluate_predict_journey(tmp_path, monkeypatch, capsys) -> None:
    run = tmp_path / "run"
    monkeypatch.setenv("UQSEG_OUT", str(run))
    tiny = ["--dataset", "synthetic-lidc", "--combo", COMBO, "--preset", "tiny", "--no-progress"]

    code, out, err = run_uqseg(monkeypatch, capsys, "train", *tiny)
    assert code == 0, err
    assert len(list((run / "training").iterdir())) == 2 and "GPU available" not in out + err
    code, out, err = run_uqseg(monkeypatch, capsys, "evaluate", *tiny)
    assert code == 0, err
    assert "ncc" in out and "auroc" in out and (run / "metrics" / "synthetic-lidc" / "seed0" / f"{COMBO}.parquet")\
        .is_file()

    folder = tmp_path / "images"
    folder.mkdir()
    for name, size in _images(folder).items():
        code, out, err = run_uqseg(monkeypatch, capsys, "predict", str(run), "--combo", COMBO, "--image",
                                   str(folder / name))
        assert code == 0, (name, err)
        target = predict_folder(run, folder / name, COMBO)
        tu, au, eu, mean = (np.load(target / f"{n}.npy") for n in ("tu", "au", "eu", "mean"))
        assert tu.shape == size and mean.shape == (2, *size) and np.isfinite(tu).all(), name
        np.testing.assert_allclose(eu, tu - au, atol=1e-4)
        np.testing.assert_allclose(mean.sum(0), 1.0, atol=2e-3)  # stored as float16 in the model's frame
        with h5py.File(target / "predictions.h5") as f:
            assert f["tu"].shape == (1, 16, 16)  # the model's input is the dataset's size, not the default 128
        assert (target / "figure.png").stat().st_size > 1000 and "figure:" in out
    assert len(list((run / "predict").iterdir())) == 8  # same-named inputs never overwrite each other

    (folder / "bad.png").write_bytes(b"not an image")
    np.save(folder / "two.npy", np.zeros((2, 32, 32), np.float32))
    failures = [
        (["predict", str(run), "--combo", COMBO, "--image", str(folder / "bad.png")], "cannot read image"),
        (["predict", str(run), "--combo", COMBO, "--image", str(folder / "two.npy")], "2 channels"),
        (["predict", str(run), "--combo", COMBO, "--image", str(folder / "none.png")], "no such file"),
        (["predict", str(run), "--combo", "ssn+swag_d", "--image", str(folder / "rgb.png"), "--seed", "3"],
         "--seed 3"),
        (["predict", str(run), "--combo", "diffusion+none", "--image", str(folder / "rgb.png")], "not trained"),
        (["predict", str(run), "--combo", "softmax+none", "--image", str(folder / "rgb.png")], "softmax+none"),
        (["predict", str(tmp_path / "nowhere"), "--combo", COMBO, "--image", str(folder / "rgb.png")],
         "does not exist"),
        (["predict", str(run), "--combo", COMBO, "--image", str(folder / "rgb.png"), "--set", "inference.samples=0"],
         "inference.samples"),
        (["report", str(run)], "uqseg benchmark"),
        (["evaluate", "--dataset", "synthetic-chaksu", "--combo", COMBO, "--preset", "tiny"], "another --out"),
    ]
    for args, needle in failures:
        code, _, err = run_uqseg(monkeypatch, capsys, *args)
        assert code == 2 and err.startswith("error: ") and needle in err and len(err.strip().splitlines()) == 1, \
            (args, err)
    for args, option in [(["predict", str(run), "--combo", COMBO, "--image", str(folder / "rgb.png"),
                           "--normalise", "bogus"], "'--normalise'"),
                         (["train", "--dataset", "synthetic-lidc", "--combo", COMBO, "--epochs", "1.5"], "'--epochs'"),
                         (["evaluate", "--dataset", "synthetic-lidc", "--au", "ssn", "--eu", "bayes"], "'--eu'")]:
        code, _, err = run_uqseg(monkeypatch, capsys, *args)
        assert code == 2 and "Usage: uqseg" in err and option in err, (args, err)
