"""TTA in the study: its runs are the softmax runs unless it trains with augmentation, its checkpoints load from
them, and it nests under every EU method through streamed inference (docs/method.md, "TTA")."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from nn_helpers import tiny_config

from uqseg.data.contract import Split
from uqseg.epistemic.swag import SwagState
from uqseg.inference.config import InferenceConfig
from uqseg.inference.predict import load_method, predict_split
from uqseg.nn.config import TTAConfig
from uqseg.nn.softmax import SoftmaxModel
from uqseg.nn.tta import TTAModel
from uqseg.training.checkpoint import EMA_FILE, SWAG_FILE, mark_complete, save_weights
from uqseg.training.config import TrainConfig
from uqseg.training.plan import run_directory, runs_for_combination, training_au
from uqseg.vocabulary import AU_MODELS, KNOWN_AU_MODELS, au_label, check_combination, combo_names

EU = ("none", "dropout", "swag", "swag_d", "ensemble")


def options(**tta: object) -> dict:
    return {"dataset": "tiny", "dataset_options": {"n": 4}, "seed": 1,
            "model": tiny_config(tta=TTAConfig(**tta)), "train": TrainConfig(epochs=2), "ensemble_size": 2}


def test_tta_is_a_known_au_model_with_a_valid_no_eu_combination_outside_the_paper_grid():
    for eu in EU:
        check_combination("tta", eu)
    assert "tta" in KNOWN_AU_MODELS and "tta" not in AU_MODELS and au_label("tta") == "TTA"
    assert not any(name.startswith("tta+") for name in combo_names("paper"))
    assert "tta+none" in combo_names() and "tta+subensemble" in combo_names()


@pytest.mark.parametrize("eu", EU)
def test_without_training_augmentation_tta_uses_the_softmax_runs(eu):
    runs = runs_for_combination("tta", eu, **options(augment="strong"))
    softmax = runs_for_combination("softmax", "swag" if eu == "none" else eu, **options())
    assert [r.key for r in runs] == [r.key for r in softmax]
    assert all(r.au == "softmax" for r in runs) and all(r.model.tta.augment == "strong" for r in runs)


def test_the_tta_settings_change_no_softmax_key_and_training_augmentation_gets_its_own_runs():
    (plain,) = runs_for_combination("softmax", "swag", **options())
    (other,) = runs_for_combination("softmax", "swag", **options(augment="strong", noise_variance=(0.002, 0.02)))
    assert plain.key == other.key
    (weak,) = runs_for_combination("tta", "swag", **options(train_augment="weak"))
    (strong,) = runs_for_combination("tta", "swag", **options(train_augment="strong"))
    assert weak.au == "tta" and len({plain.key, weak.key, strong.key}) == 3
    (weak_strong_tests,) = runs_for_combination("tta", "swag", **options(train_augment="weak", augment="strong"))
    (weak_noisier,) = runs_for_combination("tta", "swag", **options(train_augment="weak", noise_variance=(0, 0.1)))
    assert weak_strong_tests.key == weak.key and weak_noisier.key != weak.key
    assert training_au("tta", tiny_config()) == "softmax"
    assert training_au("tta", tiny_config(tta=TTAConfig(train_augment="weak"))) == "tta"
    assert training_au("ssn", tiny_config()) == "ssn"


def fake_training(tmp_path, eu: str, **tta: object):
    """Write the (EMA) weights, SWAG state and completion marker of every run ``tta+eu`` needs."""
    runs = runs_for_combination("tta", eu, **options(**tta))
    dirs = []
    for i, run in enumerate(runs):
        torch.manual_seed(i)
        model = SoftmaxModel(run.model)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1 * torch.randn_like(p))
        out = run_directory(tmp_path, run)
        out.mkdir(parents=True, exist_ok=True)
        save_weights(out / EMA_FILE, model.state_dict())
        params = {k: p.detach() for k, p in model.named_parameters()}
        state = SwagState.empty(params, max_cols=2)
        for _ in range(3):
            state.update({k: v + 0.01 * torch.randn_like(v) for k, v in params.items()})
        state.save(out / SWAG_FILE)
        mark_complete(out)
        dirs.append(out)
    return runs, dirs


@pytest.mark.parametrize("eu", EU)
def test_streamed_inference_nests_tta_under_every_eu_method(tmp_path, eu):
    runs, dirs = fake_training(tmp_path, eu)
    cfg = InferenceConfig(samples=3, instances=2, ensemble_size=2, batch_size=2, stored_sample_images=1)
    method = load_method("tta", eu, dirs, runs, cfg)
    with method.instance(0) as model:
        assert isinstance(model, TTAModel)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(3, 3, 16, 16)).astype(np.float32)
    annotations = (rng.random((3, 2, 16, 16)) > 0.5).astype(np.int64)
    split = Split("test", images, annotations, None)
    out = predict_split("tta", eu, method, split, tmp_path / f"{eu}.h5", cfg)
    with h5py.File(out, "r") as f:
        assert f.attrs["S"] == 3 and f.attrs["M"] == (1 if eu == "none" else 2)
        assert f.attrs["no_eu_convention"] == (eu == "none")
        assert f["samples"].shape == (1, 3, 2, 16, 16)
        au, eu_map = f["au"][:], f["eu"][:]
    assert np.isfinite(au).all() and float(au.mean()) > 0 and float(eu_map.mean()) > 0
