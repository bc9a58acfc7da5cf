"""`uqseg train` plumbing: override parsing and training every run of a combination into RUN_DIR/training/."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_doubles import TinyConfig, tiny_dataset, tiny_factory

from uqseg.errors import ConfigError
from uqseg.training.config import TrainConfig
from uqseg.training.runner import parse_combination, parse_overrides, train_combination


def test_parse_overrides_and_combination() -> None:
    parsed = parse_overrides(["train.lr=3e-4", "model.width=8", "data.image_size=32", "train.logger=csv"])
    assert parsed == {"train": {"lr": 3e-4, "logger": "csv"}, "model": {"width": 8}, "data": {"image_size": 32}}
    assert parse_combination("ssn+swag_d") == ("ssn", "swag_d")
    for bad in ["lr=1", "optim.lr=1", "train.lr", "train.=3"]:
        with pytest.raises(ConfigError, match=r"SECTION\.KEY=VALUE"):
            parse_overrides([bad])
    with pytest.raises(ConfigError, match="AU\\+EU"):
        parse_combination("ssn")


def test_train_combination_ensemble(tmp_path: Path) -> None:
    train = TrainConfig(epochs=1, batch_size=4, accelerator="cpu", swag_epochs=1)
    common = {
        "dataset": "tiny-training-test",
        "dataset_options": {"n_train": 8},
        "model": TinyConfig(),
        "train": train,
        "root": tmp_path,
        "progress": False,
        "model_factory": tiny_factory,
        "data": tiny_dataset(n_train=8),
    }
    done = train_combination("ssn", "ensemble", ensemble_size=2, **common)
    assert [(r.family, r.member) for r, _ in done] == [("shared", 1), ("ensemble", 2)]
    for run, path in done:
        assert path == tmp_path / "training" / run.key and (path / "COMPLETE").exists()
    (shared, _), (member, _) = done
    assert (tmp_path / "training" / shared.key / "swag.safetensors").exists()
    assert not (tmp_path / "training" / member.key / "swag.safetensors").exists()
    again = train_combination("ssn", "swag", **common)
    assert [r.key for r, _ in again] == [shared.key]
