"""Training configuration (docs/method.md §7): optimiser, EMA, SWAG collection and the execution backend."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from uqseg.errors import ConfigError

# Fields that choose where and how a run executes but not what it computes: they stay out of the run key, so a run
# trained on one backend is found again on another. ``batch_size`` is the global batch, split across DDP processes.
EXECUTION_FIELDS = frozenset(
    {"accelerator", "devices", "strategy", "logger", "num_workers", "compile", "channels_last", "val_every_n_epochs",
     "checkpoint_every_n_epochs"}
)


class SubensembleConfig(BaseModel):
    """Sub-ensemble mask training (docs/method.md §6 "Sub-ensembles from one network"); the authors' defaults except
    loss_scale, init_keep, hard_masks and scope (loss_scale: none, init_keep: null, hard_masks: sign, scope: all give
    the authors' fit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(5, ge=1, description="Number of sub-models K (EU instances).")
    epochs: int = Field(10, ge=1, description="Epochs of mask training.")
    target: float = Field(0.2, gt=0, le=1, description="Target kept fraction of each layer's weights.")
    size_weight: float = Field(3.0, ge=0, description="Weight of the size penalty.")
    size_penalty: Literal["above", "both"] = Field(
        "above", description="above: ReLU(expected kept fraction − target) (the authors'); both: |expected kept "
        "fraction − target|, which also holds the kept fraction up to the target."
    )
    diversity: Literal["mi", "iou"] = Field("mi", description="mi: −weight × mask MI; iou: +weight × soft IoU.")
    diversity_weight: float = Field(0.5, ge=0, description="Weight of the diversity term.")
    input_masks: bool = Field(False, description="Also mask input channels.")
    lr: float = Field(0.1, gt=0, description="Adam learning rate of the mask logits.")
    temperature: float = Field(1.0, gt=0, description="Gumbel-softmax temperature of the first epoch.")
    temperature_decay: float = Field(0.9, gt=0, le=1, description="Temperature factor per epoch.")
    loss_weight: float = Field(1.0, gt=0, description="Weight of the task loss before the regularisers are added.")
    loss_scale: Literal["reference", "none"] = Field(
        "reference", description="reference: the task loss is divided by the frozen model's own loss on the first "
        "training batches (loss-scale free); none: used as it is (the authors')."
    )
    reference_batches: int = Field(4, ge=1, description="Batches that measure the frozen model's reference loss.")
    normalize: bool = Field(
        False, description="Rescale each masked layer by the inverse keep ratio of its masks (dropout-style), in "
        "training and inference."
    )
    fraction_init: bool = Field(False, description="Initialise ℓ so that the expected kept fraction is the target.")
    init_keep: float | None = Field(
        0.9, gt=0, lt=1, description="Keep probability σ(2ℓ) every mask starts at, so that mask training starts near "
        "the base model; null: ℓ = 0, a coin flip per unit in the relaxed masks (the authors'). fraction_init "
        "overrides it."
    )
    hard_masks: Literal["sign", "expected"] = Field(
        "expected", description="expected: keep as many units as the relaxed masks kept in expectation, those of "
        "largest ℓ; sign: keep ℓ ≥ 0 (the authors')."
    )
    scope: Literal["model", "all"] = Field(
        "model", description="model: mask every Conv2d and Linear except the submodules the AU model exempts (Prob. "
        "UNet's prior and posterior nets); all: every Conv2d and Linear (the authors')."
    )

    def temperature_at(self, epoch: int) -> float:
        """τ of (0-based) ``epoch``: temperature · temperature_decay^epoch."""
        return self.temperature * self.temperature_decay**epoch


class TrainConfig(BaseModel):
    """Resolved training settings; defaults: docs/method.md §7 (AdamW 1e-4, wd 0, batch 32, clip 0.5, EMA 0.999)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(ge=1)
    batch_size: int = Field(32, ge=1, description="Global batch size; DDP splits it evenly across processes.")
    lr: float = Field(1e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float = Field(0.5, gt=0, description="Gradient-norm clip.")
    ema_decay: float = Field(0.999, ge=0, lt=1, description="EMA decay, applied after every optimiser step.")
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="constant (the paper), or cosine decay to lr·lr_final before SWAG collection starts."
    )
    lr_final: float = Field(0.1, gt=0, le=1, description="The cosine schedule's final learning rate, as a fraction.")
    swag_epochs: int = Field(30, ge=1, description="SWAG collects the raw weights over the last N epochs.")
    swag_max_cols: int = Field(30, ge=2, description="SWAG keeps the K latest deviation columns.")
    precision: Literal["32", "bf16-mixed"] = Field("32", description="bf16-mixed takes effect on CUDA only.")
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    logger: Literal["csv", "tensorboard", "mlflow"] = "csv"
    num_workers: int = Field(0, ge=0)
    channels_last: bool = Field(
        False, description="channels_last memory format for the model and images (faster convs on CPU and CUDA)."
    )
    compile: bool = Field(False, description="torch.compile the training loss; CUDA only.")
    seed: int = Field(0, ge=0)
    limit_train_batches: int | float | None = Field(None, description="Batches per epoch (int) or fraction (float).")
    val_every_n_epochs: int | None = Field(None, ge=1, description="Validation loss on EMA weights every N epochs.")
    checkpoint_every_n_epochs: int = Field(
        1, ge=1, description="Write the resume checkpoint after every N-th epoch (and never mid-epoch)."
    )
    train_fraction: float = Field(
        1.0, gt=0, le=1, description="Train on this fraction of the training split (a seeded subset, at least one "
        "image; docs/method.md \"Disentanglement error\" epistemic sweep).")
    snapshot_epochs: tuple[int, ...] = Field(
        (), description="Also write the EMA weights (and the SWAG state collected so far) after each of these "
        "epochs (1-based) into snapshots/epoch-<n>/ (docs/method.md \"Entanglement over training\").")
    subensemble: SubensembleConfig = Field(
        SubensembleConfig(), description="Mask training of the sub-ensemble EU method (after the shared run)."
    )

    @model_validator(mode="after")
    def _check_limits(self) -> TrainConfig:
        limit = self.limit_train_batches
        if limit is not None and (limit <= 0 or (isinstance(limit, float) and limit > 1.0)):
            raise ValueError(f"limit_train_batches must be a positive int or a fraction in (0, 1], got {limit}")
        snapshots = self.snapshot_epochs
        if any(n < 1 or n > self.epochs for n in snapshots) or list(snapshots) != sorted(set(snapshots)):
            raise ValueError(f"snapshot_epochs must be increasing epochs in [1, {self.epochs}], got {list(snapshots)}")
        return self

    def swag_start_epoch(self) -> int:
        """First (0-based) epoch whose end-of-epoch raw weights SWAG collects (docs/method.md §6: the last N epochs)."""
        return max(0, self.epochs - self.swag_epochs)

    def identity(self) -> dict:
        """The fields that define what a run computes (everything but ``EXECUTION_FIELDS``), JSON-ready. The
        schedule's fields are left out while it is constant, so runs keyed before it existed are found again; the
        ``subensemble`` section is left out too (only a sub-ensemble run's key holds it, ``uqseg.training.plan``), and
        so are ``train_fraction`` at 1 and empty ``snapshot_epochs``."""
        fields = {k: v for k, v in self.model_dump(mode="json").items() if k != "subensemble"}
        if self.lr_schedule == "constant":
            fields = {k: v for k, v in fields.items() if k not in ("lr_schedule", "lr_final")}
        if self.train_fraction == 1.0:
            fields.pop("train_fraction")
        if not self.snapshot_epochs:
            fields.pop("snapshot_epochs")
        return {k: v for k, v in fields.items() if k not in EXECUTION_FIELDS}

    def lr_factor(self, step: int, decay_steps: int) -> float:
        """The learning rate of optimiser step ``step`` as a fraction of ``lr`` (docs/method.md §7): 1 throughout
        for the constant schedule; for the cosine schedule, lr_final + (1 − lr_final)·(1 + cos(π·step/decay_steps))/2
        over the first ``decay_steps`` steps (the epochs before SWAG collection, or all epochs when SWAG collects from
        the first), then lr_final (held while SWAG collects)."""
        if self.lr_schedule == "constant":
            return 1.0
        if decay_steps <= 0:
            return self.lr_final
        progress = min(step, decay_steps) / decay_steps
        return self.lr_final + (1.0 - self.lr_final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_train_config(**values: object) -> TrainConfig:
    """Build a TrainConfig, turning pydantic's validation error into a ConfigError naming the bad fields."""
    from pydantic import ValidationError

    try:
        return TrainConfig(**values)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'train'}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"invalid training config: {problems}") from None
