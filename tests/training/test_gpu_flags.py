"""The CUDA-only training flags (bf16 autocast, torch.compile) on a CPU run: accepted and without effect — the
weights equal a run without them, bit for bit. channels_last applies on CPU too: same run key, deterministic
weights, equal to a run without it up to float rounding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from training_doubles import make_run, tiny_dataset, tiny_factory

from uqseg.training.config import TrainConfig
from uqseg.training.module import TrainingModule
from uqseg.training.train import resolved_precision, train_run, uses_cuda

GPU_FLAGS = {"precision": "bf16-mixed", "channels_last": True, "compile": True}
CUDA_ONLY = {"precision": "bf16-mixed", "compile": True}


def test_cuda_flags_are_ignored_on_cpu(tmp_path: Path) -> None:
    data = tiny_dataset(n_train=8, size=16)
    plain, flagged = make_run(epochs=2, swag_epochs=1), make_run(epochs=2, swag_epochs=1, **CUDA_ONLY)
    # channels_last and compile are execution settings (not in the run key); precision is part of what is computed
    assert make_run(epochs=2, swag_epochs=1, channels_last=True, compile=True).key == plain.key != flagged.key
    assert not uses_cuda(flagged.train) and resolved_precision(flagged.train) == "32-true"
    a = train_run(plain, data, tmp_path / "a", progress=False, model_factory=tiny_factory)
    b = train_run(flagged, data, tmp_path / "b", progress=False, model_factory=tiny_factory)
    assert json.loads((b / "run.json").read_text())["precision"] == "32-true"
    for name in ("raw.safetensors", "ema.safetensors"):
        x, y = load_file(a / name), load_file(b / name)
        assert all(torch.equal(x[k], y[k]) for k in x)


def test_channels_last_on_cpu_is_deterministic_and_matches_plain_training(tmp_path: Path) -> None:
    data = tiny_dataset(n_train=8, size=16)
    plain, cl = make_run(epochs=2, swag_epochs=1), make_run(epochs=2, swag_epochs=1, channels_last=True)
    a = train_run(plain, data, tmp_path / "a", progress=False, model_factory=tiny_factory)
    b = train_run(cl, data, tmp_path / "b", progress=False, model_factory=tiny_factory)
    c = train_run(cl, data, tmp_path / "c", progress=False, model_factory=tiny_factory)
    for name in ("raw.safetensors", "ema.safetensors"):
        x, y, z = load_file(a / name), load_file(b / name), load_file(c / name)
        assert all(torch.equal(y[k], z[k]) for k in y)
        for k in x:
            torch.testing.assert_close(y[k], x[k], rtol=1e-4, atol=1e-5)


def test_compile_needs_cuda_features_channels_last_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda fn: compiled.append(fn) or fn)
    run = make_run(**GPU_FLAGS)
    plain = make_run()
    off = TrainingModule(tiny_factory(plain), plain.train, run_key=plain.key, seed=0, cuda_features=False)
    assert not off.channels_last and not compiled
    conv = next(m for m in off.model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert not conv.weight.is_contiguous(memory_format=torch.channels_last)
    cpu = TrainingModule(tiny_factory(run), run.train, run_key=run.key, seed=0, cuda_features=False)
    assert cpu.channels_last and not compiled
    conv = next(m for m in cpu.model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    on = TrainingModule(tiny_factory(run), run.train, run_key=run.key, seed=0, cuda_features=True)
    assert on.channels_last and compiled == [on.model.loss]
    conv = next(m for m in on.model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    batch = on._prepare({"image": torch.zeros(2, 1, 8, 8), "annotations": torch.zeros(2, 3, 8, 8, dtype=torch.long)})
    assert batch["image"].is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("accelerator,expected", [("cpu", False), ("cuda", True), ("gpu", True)])
def test_uses_cuda_follows_the_accelerator(accelerator: str, expected: bool) -> None:
    assert uses_cuda(TrainConfig(epochs=1, accelerator=accelerator)) is expected
    assert resolved_precision(TrainConfig(epochs=1, accelerator=accelerator, precision="bf16-mixed")) == (
        "bf16-mixed" if expected else "32-true")
