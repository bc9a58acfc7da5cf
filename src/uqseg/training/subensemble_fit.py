"""Mask training of a sub-ensemble (docs/method.md "Sub-ensembles from one network"; Kirsch, TMLR 2025).

The trained AU model is frozen; only the mask logits ℓ of ``uqseg.epistemic.subensemble.attach_masks`` train, with
Adam (lr 0.1, no weight decay) on training batches. Each step runs the model's own ``loss(batch)`` once per
sub-model k = 0..K−1 with relaxed masks (Gumbel-softmax over (ℓ, −ℓ) at τ = τ₀ · decay^epoch), each weighted
loss_weight/K and, with ``loss_scale: reference``, divided by the frozen model's own mean loss on the first training
batches (so the regularisers weigh against the relative loss increase, whatever the loss's scale), and adds the
regularisers: size_weight × size penalty (target kept fraction) plus the diversity term (−weight × mask
mutual information by default, or +weight × mean pairwise soft IoU). The random stream of every epoch is reseeded
from (seed, epoch), as in base training.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from uqseg.data.contract import Dataset, Split
from uqseg.epistemic.subensemble import (
    SubEnsemble,
    SubensembleMasks,
    attach_masks,
    diversity_term,
    fraction_init_logit,
    load_subensemble,
    mask_parameters,
    save_subensemble,
    select_submodel,
    size_penalty,
)
from uqseg.errors import InputError, NumericalError
from uqseg.nn.base import AleatoricModel
from uqseg.training.config import SubensembleConfig
from uqseg.training.data import train_loader
from uqseg.training.module import epoch_seed

if TYPE_CHECKING:
    from uqseg.training.checkpoint import ModelFactory
    from uqseg.training.plan import TrainingRun

SUBENSEMBLE_FILE = "subensemble.safetensors"


@dataclass
class MaskFit:
    """A trained masked model, its hard masks, the per-epoch means of the objective's parts and the loss the task
    term was divided by (1 without ``loss_scale: reference``)."""

    model: AleatoricModel
    masks: SubensembleMasks
    task_loss: list[float] = field(default_factory=list)
    regulariser: list[float] = field(default_factory=list)
    reference_loss: float = 1.0


def regulariser(model: AleatoricModel, cfg: SubensembleConfig) -> Tensor:
    """size_weight × size penalty + the diversity term (docs/method.md "Sub-ensembles from one network")."""
    size = size_penalty(model, cfg.target, cfg.size_penalty == "both")
    return cfg.size_weight * size + diversity_term(model, cfg.diversity, cfg.diversity_weight)


def objective(masked: AleatoricModel, batch: dict[str, Tensor], cfg: SubensembleConfig, temperature: float,
              *, backward: bool = False, reference: float = 1.0) -> tuple[float, float]:
    """(loss_weight / ``reference`` × mean over the K sub-models of ``loss(batch)`` with relaxed masks at
    ``temperature``, regulariser); with ``backward`` the gradients of their sum are accumulated, one sub-model at a
    time to bound memory."""
    task = 0.0
    for k in range(cfg.k):
        select_submodel(masked, k, temperature)
        with torch.set_grad_enabled(backward):
            loss = masked.loss(batch) * (cfg.loss_weight / (reference * cfg.k))
            if backward:
                loss.backward()
        task += float(loss.detach())
    with torch.set_grad_enabled(backward):
        reg = regulariser(masked, cfg)
        if backward:
            reg.backward()
    select_submodel(masked, 0, None)
    return task, float(reg.detach())


def reference_loss(model: AleatoricModel, loader: Iterable[dict[str, Any]], batches: int, seed: int,
                   device: torch.device | str) -> float:
    """|mean of the frozen ``model``'s own loss| over the first ``batches`` batches of ``loader``, drawn from a
    fixed random stream: the scale the task term is divided by with ``loss_scale: reference`` (docs/method.md
    "Sub-ensembles from one network"). A loss of (nearly) zero has no scale: InputError."""
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    losses = []
    with torch.no_grad():
        for batch in loader:
            if len(losses) >= batches:
                break
            batch = {k: v.to(device) for k, v in batch.items() if isinstance(v, Tensor)}
            losses.append(float(model.loss(batch)))
    model.train(was_training)
    ref = abs(sum(losses) / max(len(losses), 1))
    if not (math.isfinite(ref) and ref > 1e-12):
        raise InputError(f"sub-ensemble mask training: the frozen model's loss {ref} gives no scale; set "
                         "train.subensemble.loss_scale=none")
    return ref


def fit_masks(model: AleatoricModel, split: Split, cfg: SubensembleConfig, *, batch_size: int, seed: int,
              device: torch.device | str = "cpu", limit_batches: int | None = None) -> MaskFit:
    """Train the K sub-model masks of the frozen ``model`` on ``split`` (docs/method.md "Sub-ensembles from one
    network"); ``model`` itself is not modified. The masked copy runs in eval mode (no dropout). With ``scope:
    model`` the submodules ``model.subensemble_exempt`` stay unmasked."""
    start = cfg.target if cfg.fraction_init else cfg.init_keep
    init = 0.0 if start is None else fraction_init_logit(start, cfg.input_masks)
    exempt = model.subensemble_exempt if cfg.scope == "model" else ()
    masked = attach_masks(model, cfg.k, input_masks=cfg.input_masks, normalize=cfg.normalize, init=init,
                          exempt=exempt)
    masked = masked.to(device).eval()
    params = mask_parameters(masked)
    optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=0.0)
    loader = train_loader(split, batch_size=batch_size, seed=seed, rank=0, world_size=1, num_workers=0,
                          pin_memory=False)
    fit = MaskFit(masked, SubensembleMasks.from_model(masked))
    if cfg.loss_scale == "reference":
        loader.sampler.set_epoch(0)
        fit.reference_loss = reference_loss(copy.deepcopy(model).to(device), loader, cfg.reference_batches,
                                            epoch_seed(seed, 0, 0), device)
    for epoch in range(cfg.epochs):
        loader.sampler.set_epoch(epoch)
        torch.manual_seed(epoch_seed(seed, epoch, 0))
        temperature = cfg.temperature_at(epoch)
        task_sum = reg_sum = 0.0
        steps = 0
        for batch in loader:
            if limit_batches is not None and steps >= limit_batches:
                break
            batch = {k: v.to(device) for k, v in batch.items() if isinstance(v, Tensor)}
            optimizer.zero_grad(set_to_none=True)
            task, reg = objective(masked, batch, cfg, temperature, backward=True, reference=fit.reference_loss)
            if not (math.isfinite(task) and math.isfinite(reg)):
                raise NumericalError(f"sub-ensemble mask training: non-finite loss at epoch {epoch}, step {steps}")
            optimizer.step()
            task_sum, reg_sum, steps = task_sum + task, reg_sum + reg, steps + 1
        fit.task_loss.append(task_sum / max(steps, 1))
        fit.regulariser.append(reg_sum / max(steps, 1))
    fit.masks = SubensembleMasks.from_model(masked, cfg.hard_masks)
    return fit


def write_subensemble(out_path: Path, model: AleatoricModel, fit: MaskFit, cfg: SubensembleConfig) -> Path:
    """Store ``model``'s weights and the fitted hard masks in one safetensors file, with the config as metadata."""
    return save_subensemble(out_path, model.state_dict(), fit.masks, cfg.model_dump(mode="json"))


def kept_fractions(masks: SubensembleMasks) -> list[float]:
    """Per sub-model, the fraction of output channels its hard masks keep, over all masked layers."""
    kept = sum(m.sum(1, dtype=torch.float64) for m in masks.outputs.values())
    total = sum(m.shape[1] for m in masks.outputs.values())
    return (kept / total).tolist()


def train_subensemble(model: AleatoricModel, split: Split, cfg: SubensembleConfig, out_dir: Path, *,
                      batch_size: int, seed: int, device: torch.device | str = "cpu",
                      limit_batches: int | None = None, record: dict[str, Any] | None = None) -> Path:
    """Fit the masks of the trained ``model`` on ``split`` and write ``out_dir/subensemble.safetensors``, ``run.json``
    (``record`` plus the per-epoch objective) and the ``COMPLETE`` marker last; returns at once when complete."""
    from uqseg.training import checkpoint as ckpt

    out_dir = Path(out_dir)
    if ckpt.is_complete(out_dir):
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    fit = fit_masks(model, split, cfg, batch_size=batch_size, seed=seed, device=device, limit_batches=limit_batches)
    write_subensemble(out_dir / SUBENSEMBLE_FILE, model, fit, cfg)
    kept = kept_fractions(fit.masks)
    if min(kept) == 0:
        warnings.warn(f"sub-ensemble in {out_dir}: a sub-model keeps no output channel of any layer (kept fractions "
                      f"{[round(f, 3) for f in kept]}); its output does not depend on the image. Train the base "
                      "model longer or lower size_weight", RuntimeWarning, stacklevel=2)
    ckpt.write_run_record(out_dir, {**(record or {}), "subensemble": cfg.model_dump(mode="json"),
                                    "task_loss": fit.task_loss, "regulariser": fit.regulariser,
                                    "reference_loss": fit.reference_loss,
                                    "kept_output_fraction": kept, "wall_time_s": time.perf_counter() - start})
    ckpt.mark_complete(out_dir)
    return out_dir


def train_subensemble_run(run: TrainingRun, dataset: Dataset, out_dir: Path, *,
                          model_factory: ModelFactory | None = None) -> Path:
    """Fit the masks of a ``subensemble`` run on the EMA weights of its shared run, which lives beside ``out_dir``
    (``training/<shared key>``), and store them in ``out_dir`` (docs/method.md §6 "Sub-ensembles from one
    network"); ``run.train.subensemble`` configures the fit, ``run.train.batch_size`` its batches."""
    from uqseg.training.checkpoint import load_trained_model
    from uqseg.training.train import uses_cuda

    shared = replace(run, family="shared")
    base = load_trained_model(shared, Path(out_dir).parent / shared.key, weights="ema", model_factory=model_factory)
    limit = run.train.limit_train_batches
    return train_subensemble(
        base, dataset.split("train"), run.train.subensemble, out_dir, batch_size=run.train.batch_size, seed=run.seed,
        device="cuda" if uses_cuda(run.train) else "cpu", limit_batches=limit if isinstance(limit, int) else None,
        record={"key": run.key, "run": run.to_dict(), "base_run": shared.key},
    )


def load_subensemble_method(model: AleatoricModel, out_dir: Path, *, batched: bool = True) -> SubEnsemble:
    """The sub-ensemble EU method stored in ``out_dir``: ``model`` (built for the same config) gets the stored base
    weights, and the stored hard masks give its K instances."""
    state, masks, _ = load_subensemble(Path(out_dir) / SUBENSEMBLE_FILE)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise InputError(f"the sub-ensemble in {out_dir} does not fit the model: {err}") from None
    return SubEnsemble(model.eval(), masks, batched=batched)
