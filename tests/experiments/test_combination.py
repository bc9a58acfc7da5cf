"""One combination through the benchmark's step DAG (``uqseg train``/``evaluate``, ``run_combination``): the model
sized from the dataset, config.yaml and run.json recording what ran, the same resume markers, warm-up warnings."""

from __future__ import annotations

import json
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from cli_runner import run_uqseg
from uqseg.errors import ConfigError
from uqseg.experiments import run_combination
from uqseg.experiments.combination import combination_config, main_figures, warmup_warnings
from uqseg.experiments.config import train_config
from uqseg.experiments.image import predict_image
from uqseg.experiments.steps import read_step_log
from uqseg.layout import RunLayout


@pytest.fixture(scope="module")
def chaksu_run(tmp_path_factory):
    """``ssn+swag`` evaluated on synthetic Chákṣu (3 classes, 3 channels) with the tiny preset."""
    out = tmp_path_factory.mktemp("chaksu")
    return run_combination("synthetic-chaksu", "ssn+swag", out, preset="tiny")


def _run_record(path) -> dict:
    return json.loads((path / "run.json").read_text())["run"]


def test_train_sizes_the_model_from_a_one_channel_dataset(tmp_path, monkeypatch, capsys) -> None:
    code, out, err = run_uqseg(monkeypatch, capsys, "train", "--dataset", "synthetic-lidc", "--au", "ssn", "--eu",
                               "none", "--preset", "tiny", "--out", str(tmp_path), "--no-progress")
    assert code == 0, err
    assert "GPU available" not in out + err and "Tip" not in out + err  # Lightning's banner is silenced
    (folder,) = (tmp_path / "training").iterdir()
    model = _run_record(folder)["model"]
    assert (model["in_channels"], model["num_classes"], model["image_size"]) == (1, 2, 16)
    config = yaml.safe_load(RunLayout(tmp_path).config.read_text())
    assert not {"in_channels", "num_classes", "image_size"} & set(config["model"])
    assert config["datasets"]["synthetic-lidc"]["model"] == {"in_channels": 1, "num_classes": 2, "image_size": 16}
    assert config["combos"] == ["ssn+none"] and config["seeds"] == [0] and config["report"] is False
    assert not (tmp_path / "predictions").exists() and not RunLayout(tmp_path).results.exists()
    assert f"trained: {folder}" in out


def test_evaluate_on_three_classes_writes_metrics_and_no_results(chaksu_run) -> None:
    model = _run_record(chaksu_run.training[0])["model"]
    assert (model["in_channels"], model["num_classes"], model["image_size"]) == (3, 3, 16)
    table = pd.read_parquet(chaksu_run.metrics)
    assert set(table.split) == {"test", "ood"} and (table[["dataset", "au", "eu"]].drop_duplicates().values.tolist()
                                                    == [["synthetic-chaksu", "ssn", "swag"]])
    assert sorted(p.name for p in chaksu_run.metrics.parent.iterdir()) == [
        "ssn+swag.bootstrap.parquet", "ssn+swag.csv", "ssn+swag.parquet"]
    layout = RunLayout(chaksu_run.run_dir)
    assert not layout.results.exists() and not layout.report.exists()


def test_evaluate_again_resumes_through_the_step_markers(chaksu_run) -> None:
    before = len(read_step_log(chaksu_run.run_dir))
    stamp = chaksu_run.metrics.stat().st_mtime_ns
    run_combination("synthetic-chaksu", "ssn+swag", chaksu_run.run_dir, preset="tiny")
    events = read_step_log(chaksu_run.run_dir)[before:]
    assert {e["status"] for e in events} == {"skipped"} and len(events) >= 6
    assert chaksu_run.metrics.stat().st_mtime_ns == stamp
    shared = run_combination("synthetic-chaksu", "ssn+none", chaksu_run.run_dir, preset="tiny", stage="train")
    assert shared.training == chaksu_run.training  # No-EU reuses SWAG's shared run (docs/method.md §6)


def test_main_figures_are_the_headline_numbers(chaksu_run) -> None:
    figures = main_figures(pd.read_parquet(chaksu_run.metrics))
    assert set(zip(figures.task, figures.metric, strict=True)) == {
        ("AMB", "ncc"), ("CAL", "ace_global"), ("OODD", "auroc"), ("SEG", "dice"), ("SEG", "ged_dice")}
    assert figures.loc[figures.task == "OODD", "split"].tolist() == ["ood"]


def test_evaluate_prints_the_main_figures(tmp_path, monkeypatch, capsys) -> None:
    code, out, err = run_uqseg(monkeypatch, capsys, "evaluate", "--dataset", "synthetic-lidc", "--combo",
                               "softmax+dropout", "--preset", "tiny", "--out", str(tmp_path), "--no-progress",
                               "--set", "inference.instances=3")
    assert code == 0, err
    assert "ace_global" in out and "auroc" in out and "dice" in out and "metrics:" in out
    assert yaml.safe_load(RunLayout(tmp_path).config.read_text())["inference"]["instances"] == 3


def test_epochs_replace_every_epoch_count_and_warn_below_the_warm_up() -> None:
    cfg = combination_config("synthetic-chaksu", "prob_unet+none", preset="quick", seed=4, epochs=1)
    assert cfg.dataset_seeds("synthetic-chaksu") == [4] and cfg.train.epochs == 1
    assert train_config(cfg, "synthetic-chaksu", "prob_unet").epochs == 1  # the quick preset's 24 is replaced
    (line,) = warmup_warnings(cfg)
    assert "prob_unet" in line and "model.prob_unet.beta_warmup_epochs" in line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ConfigError, match="stage"):  # warned before anything runs
            run_combination("synthetic-lidc", "prob_unet+none", "unused", preset="quick", epochs=1, stage="x")
    assert any("warm-up" in str(w.message) for w in caught)
    assert warmup_warnings(combination_config("synthetic-lidc", "prob_unet+none", preset="tiny")) == []


def test_predict_uses_the_trained_geometry_and_the_image_size(chaksu_run, tmp_path) -> None:
    picture = np.zeros((20, 36, 3), np.uint8)
    picture[2:9, 20:30] = 255  # non-square, off-centre
    Image.fromarray(picture).save(tmp_path / "eye.png")
    paths = predict_image(chaksu_run.run_dir, "ssn+swag", tmp_path / "eye.png", tmp_path / "out")
    with h5py.File(paths["predictions"]) as f:
        assert f["tu"].shape == (1, 16, 16) and f["mean"].shape == (1, 3, 16, 16)  # the dataset's size and classes
    tu, mean = np.load(paths["tu"]), np.load(paths["mean"])
    assert tu.shape == (20, 36) and mean.shape == (3, 20, 36) and np.isfinite(tu).all()
