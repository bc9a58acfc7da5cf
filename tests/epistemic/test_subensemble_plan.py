"""The sub-ensemble in the study: its run after the shared run (keyed by the subensemble config alone), fitted on
the shared run's EMA weights, and loaded for inference as K instances."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from epistemic_doubles import NoisyNet
from test_subensemble_fit import _discs

from uqseg.data.contract import Dataset, DatasetInfo
from uqseg.errors import ConfigError, InputError
from uqseg.inference.config import InferenceConfig
from uqseg.inference.predict import load_method
from uqseg.nn.config import ModelConfig
from uqseg.training import checkpoint as ckpt
from uqseg.training.config import SubensembleConfig, TrainConfig
from uqseg.training.plan import base_run, run_directory, runs_for_combination
from uqseg.training.subensemble_fit import SUBENSEMBLE_FILE
from uqseg.training.train import train_run
from uqseg.vocabulary import EU_METHODS, check_combination, eu_label, instance_count


def _runs(train: TrainConfig, eu: str = "subensemble") -> list:
    return runs_for_combination("ssn", eu, dataset="d", dataset_options={}, seed=3, model=ModelConfig(), train=train)


def test_a_sub_ensemble_is_the_shared_run_and_a_mask_run_keyed_by_its_config() -> None:
    train = TrainConfig(epochs=2)
    shared, masks = _runs(train)
    assert (shared.family, masks.family, masks.name) == ("shared", "subensemble", "ssn/subensemble")
    assert shared.key == _runs(train, "swag")[0].key and base_run(masks).key == shared.key and base_run(shared) is None
    other = train.model_copy(update={"subensemble": SubensembleConfig(k=3)})
    assert _runs(other)[0].key == shared.key and _runs(other)[1].key != masks.key
    assert masks.model.dropout == 0.0 and masks.seed == shared.seed


def test_the_name_is_known_but_outside_the_paper_grid() -> None:
    check_combination("softmax", "subensemble")
    assert "subensemble" not in EU_METHODS and eu_label("subensemble") == "Sub-ensemble"
    assert instance_count("subensemble", 10, 5, 4) == 4
    with pytest.raises(ConfigError, match="unknown EU method"):
        check_combination("ssn", "subensembles")


def test_the_mask_run_fits_the_shared_runs_ema_weights_and_loads_as_k_instances(tmp_path: Path) -> None:
    split = _discs(n=8)
    data = Dataset(DatasetInfo("discs", 2, 1, 3, (16, 16), ()), {"train": split, "val": split, "test": split})
    train = TrainConfig(epochs=1, batch_size=4, accelerator="cpu",
                        subensemble=SubensembleConfig(k=2, epochs=1, target=0.5))
    shared, masks = runs_for_combination("softmax", "subensemble", dataset="discs", dataset_options={}, seed=0,
                                         model=ModelConfig(in_channels=1), train=train)

    def factory(run: object) -> NoisyNet:
        return NoisyNet(width=8, noise=0.0)

    with pytest.raises(InputError, match="not complete"):
        train_run(masks, data, run_directory(tmp_path, masks), progress=False, model_factory=factory)
    base = NoisyNet(width=8, noise=0.0, seed=1)
    ckpt.save_weights(run_directory(tmp_path, shared) / ckpt.EMA_FILE, base.state_dict())
    ckpt.mark_complete(run_directory(tmp_path, shared))
    out = train_run(masks, data, run_directory(tmp_path, masks), progress=False, model_factory=factory)
    assert (out / SUBENSEMBLE_FILE).is_file() and ckpt.is_complete(out)
    method = load_method("softmax", "subensemble", [run_directory(tmp_path, r) for r in (shared, masks)],
                         [shared, masks], InferenceConfig(), model_factory=factory)
    assert method.num_instances == 2
    loaded = dict(method.model.named_parameters())
    assert all(torch.equal(loaded[k], v) for k, v in base.named_parameters())
