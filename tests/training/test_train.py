"""Training (docs/method.md §7): resume bit for bit, EMA, SWAG collection, NaN stop, safe checkpoints, overfit."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from safetensors.torch import load_file
from training_doubles import TinyModel, make_run, tiny_dataset, tiny_factory

from uqseg.errors import ConfigError, InputError, NumericalError
from uqseg.training.checkpoint import load_swag_state, load_trained_model
from uqseg.training.train import train_run


class Interrupt(Exception):
    pass


class InterruptAtEpoch(pl.Callback):
    """Simulate a crash at the start of epoch ``k`` (epochs 0..k-1 are done and checkpointed)."""

    def __init__(self, k: int):
        self.k = k

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == self.k:
            raise Interrupt


class Recorder(pl.Callback):
    """Raw parameters at the start, after every optimiser step and at every epoch end."""

    def __init__(self) -> None:
        self.steps: list[dict[str, torch.Tensor]] = []
        self.epoch_ends: dict[int, dict[str, torch.Tensor]] = {}

    @staticmethod
    def _params(pl_module: pl.LightningModule) -> dict[str, torch.Tensor]:
        return {k: v.detach().double().clone() for k, v in pl_module.model.state_dict().items()}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.steps.append(self._params(pl_module))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps.append(self._params(pl_module))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch_ends[trainer.current_epoch] = self._params(pl_module)


@pytest.fixture(scope="module")
def data():
    return tiny_dataset(n_train=16, size=16)


def test_resume_continues_and_matches_uninterrupted(tmp_path: Path, data) -> None:
    run = make_run(epochs=4, swag_epochs=3)
    straight = train_run(run, data, tmp_path / "a", progress=False, model_factory=tiny_factory)

    with pytest.raises(Interrupt):
        train_run(
            run, data, tmp_path / "b", progress=False, model_factory=tiny_factory, callbacks=[InterruptAtEpoch(2)]
        )
    assert not (tmp_path / "b" / "COMPLETE").exists()
    partial = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True)
    assert partial["epoch"] == 1 and partial["global_step"] == 8

    models: list[TinyModel] = []

    def factory(r):
        models.append(tiny_factory(r))
        return models[-1]

    resumed = train_run(run, data, tmp_path / "b", progress=False, model_factory=factory)
    assert models[0].epochs_seen == [2, 3]
    record = json.loads((resumed / "run.json").read_text())
    assert record["resumed"] is True and record["swag_epochs"] == [1, 2, 3] and record["key"] == run.key
    for name in ("raw.safetensors", "ema.safetensors", "swag.safetensors"):
        a, b = load_file(straight / name), load_file(resumed / name)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), (name, key)


def test_ema_is_what_is_loaded_and_follows_the_formula(tmp_path: Path, data) -> None:
    run = make_run(family="ensemble", member=2, epochs=2, ema_decay=0.7)
    recorder = Recorder()
    out = train_run(run, data, tmp_path, progress=False, model_factory=tiny_factory, callbacks=[recorder])
    ema, raw = load_file(out / "ema.safetensors"), load_file(out / "raw.safetensors")
    assert any(not torch.equal(ema[k], raw[k]) for k in ema)
    assert not (out / "swag.safetensors").exists()

    expected = recorder.steps[0]
    for weights in recorder.steps[1:]:
        expected = {k: 0.7 * expected[k] + 0.3 * weights[k] for k in expected}
    assert len(recorder.steps) == 1 + 2 * 4
    for key in ema:
        torch.testing.assert_close(ema[key].double(), expected[key], rtol=1e-5, atol=1e-6)
        assert torch.equal(raw[key].double(), recorder.steps[-1][key])

    model = load_trained_model(run, out, model_factory=tiny_factory)
    assert not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, ema[key])
    raw_model = load_trained_model(run, out, weights="raw", model_factory=tiny_factory)
    assert all(torch.equal(v, raw[k]) for k, v in raw_model.state_dict().items())
    with pytest.raises(ConfigError, match="weights"):
        load_trained_model(run, out, weights="best", model_factory=tiny_factory)


def test_swag_collects_last_epochs_of_raw_weights(tmp_path: Path, data) -> None:
    run = make_run(epochs=4, swag_epochs=2, ema_decay=0.9)
    recorder = Recorder()
    out = train_run(run, data, tmp_path, progress=False, model_factory=tiny_factory, callbacks=[recorder])
    assert json.loads((out / "run.json").read_text())["swag_epochs"] == [2, 3]
    state = load_swag_state(out)
    assert state.n == 2
    for name, mean in state.mean.items():
        expected = (recorder.epoch_ends[2][name] + recorder.epoch_ends[3][name]) / 2
        torch.testing.assert_close(mean.double(), expected, rtol=0, atol=1e-7)
    ema = load_file(out / "ema.safetensors")
    assert any(not torch.allclose(state.mean[k].float(), ema[k]) for k in state.mean)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path: Path, data) -> None:
    run = make_run(epochs=4)
    with pytest.raises(NumericalError, match=rf"run {run.key}.*epoch 2, step 9"):
        train_run(run, data, tmp_path, progress=False, model_factory=lambda r: TinyModel(r.model, nan_after=9))
    assert not (tmp_path / "COMPLETE").exists() and not (tmp_path / "ema.safetensors").exists()
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["global_step"] == 8
    tensors = [*checkpoint["state_dict"].values(), *checkpoint["ema_state"].values()]
    assert all(torch.isfinite(t).all() for t in tensors)
    out = train_run(run, data, tmp_path, progress=False, model_factory=tiny_factory)
    assert json.loads((out / "run.json").read_text())["resumed"] is True


def test_checkpoint_is_weights_only_and_complete_runs_are_skipped(tmp_path: Path, data) -> None:
    run = make_run(epochs=2, swag_epochs=1)
    out = train_run(run, data, tmp_path, progress=False, model_factory=tiny_factory)
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    names = set(tiny_factory(run).state_dict())
    assert set(checkpoint["ema_state"]) == names
    assert set(checkpoint["state_dict"]) == {f"model.{k}" for k in names}
    assert checkpoint["callbacks"]["SwagCollector"]["state"].dtype == torch.uint8

    def refuse(r):
        raise AssertionError("a COMPLETE run must not be trained again")

    assert train_run(run, data, tmp_path, progress=False, model_factory=refuse) == tmp_path


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_planted_pickle_checkpoint_is_not_executed(tmp_path: Path, data) -> None:
    run = make_run(epochs=2)
    marker = tmp_path / "pwned"
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    with open(tmp_path / "run" / "checkpoints" / "last.ckpt", "wb") as handle:
        pickle.dump({"state_dict": _Exploit(marker)}, handle)
    with pytest.raises(InputError, match=r"last\.ckpt"):
        train_run(run, data, tmp_path / "run", progress=False, model_factory=tiny_factory)
    assert not marker.exists()


def test_load_requires_complete_run(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not complete"):
        load_trained_model(make_run(), tmp_path, model_factory=tiny_factory)
    with pytest.raises(InputError, match="not complete"):
        load_swag_state(tmp_path)


def test_overfit_one_batch_reduces_loss(tmp_path: Path) -> None:
    data = tiny_dataset(n_train=4, size=16, annotators=1, seed=1)
    run = make_run(family="ensemble", member=2, epochs=40, ema_decay=0.0, lr=3e-2)
    batch = {k: torch.from_numpy(v) for k, v in next(data.split("train").batches(4)).items()}
    pl.seed_everything(run.seed, verbose=False)
    with torch.no_grad():
        before = float(tiny_factory(run).loss(batch))
    out = train_run(run, data, tmp_path, progress=False, model_factory=tiny_factory)
    with torch.no_grad():
        after = float(load_trained_model(run, out, model_factory=tiny_factory).loss(batch))
    assert after < 0.5 * before, (before, after)


def test_checkpoint_every_n_epochs_resumes_from_the_last_written_epoch(tmp_path: Path, data) -> None:
    run = make_run(epochs=4, swag_epochs=3)
    sparse = make_run(epochs=4, swag_epochs=3, checkpoint_every_n_epochs=2)
    assert sparse.key == run.key  # an execution setting: the same run
    straight = train_run(run, data, tmp_path / "a", progress=False, model_factory=tiny_factory)
    with pytest.raises(Interrupt):
        train_run(sparse, data, tmp_path / "b", progress=False, model_factory=tiny_factory,
                  callbacks=[InterruptAtEpoch(3)])
    partial = torch.load(tmp_path / "b" / "checkpoints" / "last.ckpt", weights_only=True)
    assert partial["epoch"] == 1 and partial["global_step"] == 8  # epoch 2 ran but was not checkpointed
    resumed = train_run(sparse, data, tmp_path / "b", progress=False, model_factory=tiny_factory)
    for name in ("raw.safetensors", "ema.safetensors", "swag.safetensors"):
        a, b = load_file(straight / name), load_file(resumed / name)
        assert all(torch.equal(a[k], b[k]) for k in a), name


class LrRecorder(pl.Callback):
    """The learning rate used by every optimiser step."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_cosine_schedule_decays_until_swag_collection_then_holds(tmp_path: Path, data) -> None:
    run = make_run(epochs=4, swag_epochs=2, lr_schedule="cosine", lr_final=0.1)
    recorder = LrRecorder()
    train_run(run, data, tmp_path / "r", progress=False, model_factory=tiny_factory, callbacks=[recorder])
    lrs = recorder.lrs
    assert len(lrs) == 16  # 4 epochs × 4 batches; decay over the 8 steps of epochs 0-1
    expected = [1e-2 * run.train.lr_factor(step, 8) for step in range(16)]
    assert lrs == pytest.approx(expected, rel=1e-9)
    assert lrs[0] == pytest.approx(1e-2) and lrs[4] == pytest.approx(1e-2 * (0.1 + 0.9 * 0.5))
    assert lrs[8:] == pytest.approx([1e-3] * 8)  # held at lr·lr_final while SWAG collects


def test_cosine_schedule_resumes_bit_identically(tmp_path: Path, data) -> None:
    run = make_run(epochs=4, swag_epochs=2, lr_schedule="cosine")
    straight = train_run(run, data, tmp_path / "a", progress=False, model_factory=tiny_factory)
    with pytest.raises(Interrupt):
        train_run(run, data, tmp_path / "b", progress=False, model_factory=tiny_factory,
                  callbacks=[InterruptAtEpoch(3)])
    resumed = train_run(run, data, tmp_path / "b", progress=False, model_factory=tiny_factory)
    for name in ("raw.safetensors", "ema.safetensors", "swag.safetensors"):
        a, b = load_file(straight / name), load_file(resumed / name)
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_constant_schedule_keeps_the_run_key_and_cosine_changes_it() -> None:
    base = make_run()
    assert "lr_schedule" not in base.train.identity()
    assert make_run(lr_schedule="constant", lr_final=0.5).key == base.key
    assert make_run(lr_schedule="cosine").key != base.key
    assert base.train.lr_factor(7, 8) == 1.0
