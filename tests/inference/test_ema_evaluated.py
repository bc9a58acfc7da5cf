"""The weights inference evaluates are the EMA weights, not the raw ones (docs/method.md §7)."""

from __future__ import annotations

import torch
from inference_doubles import TinyConfig, tiny_dataset, tiny_factory, train_doubles
from safetensors.torch import load_file

from uqseg.inference.config import InferenceConfig
from uqseg.inference.predict import load_method
from uqseg.training.config import TrainConfig


def test_load_method_evaluates_the_ema_weights(tmp_path) -> None:
    train = TrainConfig(epochs=2, batch_size=4, lr=1e-2, ema_decay=0.5, swag_epochs=1, swag_max_cols=2,
                        accelerator="cpu")
    done = train_doubles(tmp_path, "ssn", "ensemble", tiny_dataset(), TinyConfig(), train, ensemble_size=2)
    method = load_method("ssn", "ensemble", [p for _, p in done], [r for r, _ in done],
                         InferenceConfig(ensemble_size=2), model_factory=tiny_factory)
    for m, (_, path) in enumerate(done):
        ema, raw = load_file(path / "ema.safetensors"), load_file(path / "raw.safetensors")
        assert any(not torch.equal(ema[k], raw[k]) for k in ema)
        with method.instance(m) as model:
            state = model.state_dict()
        assert state.keys() == ema.keys() and all(torch.equal(state[k], ema[k]) for k in ema)
