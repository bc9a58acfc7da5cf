"""Checkpoint files of a training run: atomic Lightning checkpoints, safetensors weights, and loading them back.

A finished run directory holds ``ema.safetensors`` (the evaluated weights, docs/method.md §7), ``raw.safetensors``,
``swag.safetensors`` (shared runs), ``run.json`` and a ``COMPLETE`` marker written last. Nothing is ever unpickled:
weights are safetensors and Lightning checkpoints are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from uqseg.atomic import atomic_path, write_text_atomic
from uqseg.epistemic.swag import SwagState
from uqseg.errors import ConfigError, InputError
from uqseg.nn import build_model
from uqseg.nn.base import AleatoricModel
from uqseg.training.plan import TrainingRun

EMA_FILE = "ema.safetensors"
RAW_FILE = "raw.safetensors"
SWAG_FILE = "swag.safetensors"
RUN_FILE = "run.json"
COMPLETE_FILE = "COMPLETE"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
WEIGHTS = {"ema": EMA_FILE, "raw": RAW_FILE}

ModelFactory = Callable[[TrainingRun], AleatoricModel]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O that renames a complete file into place and only ever loads with weights_only."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict:
        location = map_location if map_location is not None else "cpu"
        return torch.load(path, map_location=location, weights_only=True)


def is_complete(out_dir: Path) -> bool:
    """Whether the run in ``out_dir`` finished and wrote all its outputs."""
    return (Path(out_dir) / COMPLETE_FILE).is_file()


def last_checkpoint(out_dir: Path) -> Path | None:
    """The run's latest epoch checkpoint, if any."""
    path = Path(out_dir) / CHECKPOINT_DIR / LAST_CHECKPOINT
    return path if path.is_file() else None


def verify_checkpoint(path: Path) -> None:
    """Check that a Lightning checkpoint loads with ``weights_only=True``; anything else is an InputError."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError) as err:
        raise InputError(
            f"checkpoint {path} is corrupt or holds more than weights ({type(err).__name__}); delete it to restart"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise InputError(f"checkpoint {path} is not a Lightning checkpoint; delete it to restart")


def save_weights(path: Path, state: dict[str, Tensor]) -> Path:
    """Write a state dict to safetensors atomically (CPU, contiguous, no shared storage)."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))
    return Path(path)


def read_weights(path: Path) -> dict[str, Tensor]:
    """Read a safetensors state dict; a missing or corrupt file is an InputError."""
    if not Path(path).is_file():
        raise InputError(f"weights file {path} does not exist")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(f"cannot read weights file {path}: {err}") from None


def write_run_record(out_dir: Path, record: dict[str, Any]) -> None:
    """Write ``run.json`` atomically."""
    write_text_atomic(Path(out_dir) / RUN_FILE, json.dumps(record, indent=2, sort_keys=True) + "\n")


def mark_complete(out_dir: Path) -> None:
    """Write the ``COMPLETE`` marker, after every other output."""
    write_text_atomic(Path(out_dir) / COMPLETE_FILE, "")


def default_model_factory(run: TrainingRun) -> AleatoricModel:
    """Build the run's AU model with ``uqseg.nn.build_model`` (docs/method.md §4, §5)."""
    return build_model(run.au, run.model)


def _require_complete(out_dir: Path) -> None:
    if not is_complete(out_dir):
        raise InputError(f"training run in {out_dir} is not complete (no {COMPLETE_FILE} marker); train it first")


def load_trained_model(
    run: TrainingRun, out_dir: Path, *, weights: str = "ema", model_factory: ModelFactory | None = None
) -> AleatoricModel:
    """The trained model of ``run`` in eval mode, with its EMA (default, what is evaluated) or raw weights."""
    if weights not in WEIGHTS:
        raise ConfigError(f"unknown weights {weights!r}; choose one of {', '.join(WEIGHTS)}")
    out_dir = Path(out_dir)
    _require_complete(out_dir)
    model = (model_factory or default_model_factory)(run)
    state = read_weights(out_dir / WEIGHTS[weights])
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise InputError(f"weights in {out_dir / WEIGHTS[weights]} do not fit run {run.key}: {err}") from None
    return model.eval()


def load_swag_state(out_dir: Path) -> Any:
    """The SWAG state a shared run collected (``uqseg.epistemic.swag.SwagState``)."""
    out_dir = Path(out_dir)
    _require_complete(out_dir)
    path = out_dir / SWAG_FILE
    if not path.is_file():
        raise InputError(f"{out_dir} holds no SWAG state; only shared training runs collect one")
    return SwagState.load(path)
