"""Training callbacks: a guard against non-finite weights, the SWAG moment collector (docs/method.md §6) and the
snapshot writer (docs/method.md "Entanglement versus shift severity, model size and training", over training).

All act at the end of a training epoch, before Lightning's ModelCheckpoint (which Lightning always runs last), so a
checkpoint never holds NaN weights and always holds the SWAG state up to and including its own epoch.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from uqseg.atomic import atomic_path, write_text_atomic
from uqseg.epistemic.swag import SwagState
from uqseg.errors import NumericalError
from uqseg.training import checkpoint as ckpt


class FiniteWeightsGuard(pl.Callback):
    """Stop training before a checkpoint is written if any raw or EMA weight is NaN or inf."""

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        named = {f"raw {k}": v for k, v in pl_module.model.state_dict().items()}
        named.update({f"ema {k}": v for k, v in pl_module.ema.shadow.items()})
        bad = [k for k, v in named.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
        if bad:
            raise NumericalError(
                f"run {pl_module.run_key}: non-finite weights at the end of epoch {trainer.current_epoch} "
                f"(step {trainer.global_step}): {', '.join(bad[:5])}; the last good checkpoint is kept"
            )


def swag_parameters(model: torch.nn.Module) -> dict[str, Tensor]:
    """The tensors SWAG averages: the model's named parameters (raw, detached)."""
    return {name: p.detach() for name, p in model.named_parameters()}


def _state_to_bytes(state: Any) -> Tensor:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "swag.safetensors"
        state.save(path)
        return torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)


def _state_from_bytes(blob: Tensor) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "swag.safetensors"
        path.write_bytes(blob.numpy().tobytes())
        return SwagState.load(path)


class SwagCollector(pl.Callback):
    """Collect the raw weights at the end of every epoch from ``start_epoch`` on into a ``SwagState``.

    Its checkpoint state is the SwagState's safetensors serialisation held as a uint8 tensor plus the list of
    collected epochs, so the checkpoint stays loadable with ``torch.load(weights_only=True)``.
    """

    def __init__(self, start_epoch: int, max_cols: int):
        self.start_epoch = start_epoch
        self.max_cols = max_cols
        self.state: Any = None
        self.epochs: list[int] = []

    @property
    def state_key(self) -> str:
        return "SwagCollector"

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch
        if epoch < self.start_epoch or epoch in self.epochs:
            return
        params = swag_parameters(pl_module.model)
        if self.state is None:
            self.state = SwagState.empty(params, self.max_cols)
        self.state.update(params)
        self.epochs.append(epoch)

    def state_dict(self) -> dict[str, Any]:
        if self.state is None:
            return {"epochs": torch.zeros(0, dtype=torch.int64)}
        return {"epochs": torch.tensor(self.epochs, dtype=torch.int64), "state": _state_to_bytes(self.state)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs = [int(e) for e in state_dict["epochs"].tolist()]
        self.state = _state_from_bytes(state_dict["state"]) if "state" in state_dict else None


SNAPSHOT_DIR = "snapshots"


def snapshot_directory(out_dir: Path, epoch: int) -> Path:
    """Where a run's snapshot after ``epoch`` (1-based) lives: ``out_dir/snapshots/epoch-<n>``."""
    return Path(out_dir) / SNAPSHOT_DIR / f"epoch-{epoch}"


class SnapshotWriter(pl.Callback):
    """After each epoch of ``epochs`` (1-based), write the EMA weights (what is evaluated, docs/method.md §7) and the
    SWAG state collected so far (none before collection starts) into ``snapshot_directory``, laid out like a finished
    run directory (``ema.safetensors``, ``swag.safetensors``, ``COMPLETE`` last), so the prediction step loads a
    snapshot as it loads a run. Listed after the SWAG collector, it sees that epoch's moments; Lightning writes the
    resume checkpoint after it, so a resumed run never lacks an earlier snapshot."""

    def __init__(self, out_dir: Path, epochs: tuple[int, ...], swag: SwagCollector | None):
        self.out_dir, self.epochs, self.swag = Path(out_dir), set(epochs), swag

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if epoch not in self.epochs or not trainer.is_global_zero:
            return
        folder = snapshot_directory(self.out_dir, epoch)
        folder.mkdir(parents=True, exist_ok=True)
        ckpt.save_weights(folder / ckpt.EMA_FILE, pl_module.ema.shadow)
        if self.swag is not None and self.swag.state is not None:
            with atomic_path(folder / ckpt.SWAG_FILE) as tmp:
                self.swag.state.save(tmp)
        swag_epochs = self.swag.epochs if self.swag is not None else []
        write_text_atomic(folder / ckpt.RUN_FILE, json.dumps({"epoch": epoch, "swag_epochs": swag_epochs}) + "\n")
        ckpt.mark_complete(folder)
