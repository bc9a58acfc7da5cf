"""`uqseg evaluate` and `uqseg predict` through the console entry point (clear errors on bad input)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from inference_doubles import tiny_dataset
from PIL import Image

import uqseg.data
from cli_runner import run_uqseg as _cli
from uqseg.inference.cli_support import predict_folder

MODEL_SETS = ["model.in_channels=1", "model.image_size=32", "model.base_width=8", "model.channel_mult=[1,2]",
              "model.num_res_blocks=1", "model.group_norm_groups=8", "model.attention_levels=[-1]"]
FAST = ["train.batch_size=4", "train.swag_epochs=2", "train.swag_max_cols=2", "train.limit_train_batches=1",
        "infer.instances=2", "infer.batch_size=4"]


@pytest.fixture
def trained(tmp_path, monkeypatch, capsys):
    data = tiny_dataset({"train": 4, "val": 2, "test": 2, "ood-noise": 2}, size=32)
    monkeypatch.setattr(uqseg.data, "get_dataset", lambda name, **options: data)
    sets = [x for s in MODEL_SETS + FAST for x in ("--set", s)]
    code, out, err = _cli(monkeypatch, capsys, "evaluate", "--dataset", "tiny", "--combo", "softmax+swag",
                          "--epochs", "2", "--out", str(tmp_path), "--no-progress", *sets)
    assert code == 0, err
    return tmp_path, out


def test_evaluate_writes_metrics(trained) -> None:
    root, out = trained
    path = root / "metrics" / "tiny" / "seed0" / "softmax+swag.parquet"
    assert str(path) in out
    table = pd.read_parquet(path)
    assert {"dataset", "seed", "au", "eu", "split", "task", "measure", "metric", "value", "status"} <= set(table)
    assert sorted(p.name for p in (root / "predictions" / "tiny" / "seed0" / "softmax+swag").iterdir()) == [
        "ood-noise.h5", "test.h5", "val.h5"]


def test_predict_user_image(trained, tmp_path_factory, monkeypatch, capsys) -> None:
    root, _ = trained
    folder = tmp_path_factory.mktemp("img")
    picture = np.zeros((40, 50, 3), np.uint8)
    picture[5:20, 30:45] = 255
    Image.fromarray(picture).save(folder / "mine.png")
    code, out, err = _cli(monkeypatch, capsys, "predict", str(root), "--combo", "softmax+swag", "--image",
                          str(folder / "mine.png"), "--set", "infer.instances=3")
    assert code == 0, err
    target = predict_folder(root, folder / "mine.png", "softmax+swag")
    tu, au, eu, mean = (np.load(target / f"{n}.npy") for n in ("tu", "au", "eu", "mean"))
    assert tu.shape == (40, 50) and mean.shape == (2, 40, 50) and np.isfinite(tu).all()  # the input's own size
    np.testing.assert_allclose(eu, tu - au, atol=1e-5)
    np.testing.assert_allclose(mean.sum(0), 1.0, atol=1e-5)
    assert (target / "figure.png").stat().st_size > 1000 and "figure" in out
    Image.fromarray(picture).save(folder / "mine.jpg")
    np.save(folder / "mine.npy", picture.transpose(2, 0, 1))  # C×H×W
    for name in ("mine.jpg", "mine.npy"):
        code, out, err = _cli(monkeypatch, capsys, "predict", str(root), "--combo", "softmax+swag", "--image",
                              str(folder / name))
        assert code == 0, err
        assert np.load(predict_folder(root, folder / name, "softmax+swag") / "tu.npy").shape == (40, 50)
    assert len(list((root / "predict").iterdir())) == 3  # x.png, x.jpg and x.npy do not overwrite each other

    (folder / "bad.png").write_bytes(b"not an image")
    code, _, err = _cli(monkeypatch, capsys, "predict", str(root), "--combo", "softmax+swag", "--image",
                        str(folder / "bad.png"))
    assert code == 2 and "cannot read image" in err and "Traceback" not in err
    np.save(folder / "two.npy", np.zeros((2, 32, 32), np.float32))
    code, _, err = _cli(monkeypatch, capsys, "predict", str(root), "--combo", "softmax+swag", "--image",
                        str(folder / "two.npy"))
    assert code == 2 and "2 channels" in err
    code, _, err = _cli(monkeypatch, capsys, "predict", str(root), "--combo", "ssn+swag", "--image",
                        str(folder / "mine.png"))
    assert code == 2 and "no complete trained shared run of ssn" in err
    code, _, err = _cli(monkeypatch, capsys, "predict", str(root), "--combo", "softmax+none", "--image",
                        str(folder / "mine.png"))
    assert code == 2 and "not a valid combination" in err
