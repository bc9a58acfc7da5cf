"""Train one planned run with Lightning (docs/method.md §7), resuming from its last epoch checkpoint.

CPU, one GPU or DDP over several devices run the same code; channels_last is used on any device, bf16 autocast
and ``torch.compile`` on CUDA only, when the config asks for them. The resume checkpoint is written after every
``checkpoint_every_n_epochs``-th epoch; ``snapshot_epochs`` adds weight snapshots after chosen epochs
(``uqseg.training.callbacks.SnapshotWriter``).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from uqseg.atomic import atomic_path
from uqseg.data.contract import Dataset
from uqseg.errors import ConfigError, UqsegError
from uqseg.training import checkpoint as ckpt
from uqseg.training.callbacks import FiniteWeightsGuard, SnapshotWriter, SwagCollector
from uqseg.training.config import TrainConfig
from uqseg.training.data import eval_loader, per_process_batch_size, train_loader
from uqseg.training.module import TrainingModule
from uqseg.training.plan import TrainingRun


def uses_cuda(train: TrainConfig) -> bool:
    """Whether Lightning will place this config on CUDA."""
    if train.accelerator in ("cuda", "gpu"):
        return True
    return train.accelerator == "auto" and torch.cuda.is_available()


def resolved_precision(train: TrainConfig) -> str:
    """Lightning precision: bf16-mixed only on CUDA (docs/method.md §7; GPU path), full fp32 otherwise."""
    return "bf16-mixed" if train.precision == "bf16-mixed" and uses_cuda(train) else "32-true"


class _SplitData(pl.LightningDataModule):
    """Train (and optional val) loaders, built once Lightning knows this process's rank and the world size."""

    def __init__(self, dataset: Dataset, train: TrainConfig, seed: int):
        super().__init__()
        self.dataset, self.cfg, self.seed = dataset, train, seed

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return train_loader(
            self.dataset.split("train"),
            batch_size=self.cfg.batch_size,
            seed=self.seed,
            rank=self.trainer.global_rank,
            world_size=self.trainer.world_size,
            num_workers=self.cfg.num_workers,
            pin_memory=uses_cuda(self.cfg),
            fraction=self.cfg.train_fraction,
        )

    def val_dataloader(self) -> torch.utils.data.DataLoader:
        batch = per_process_batch_size(self.cfg.batch_size, self.trainer.world_size)
        return eval_loader(self.dataset.split("val"), batch_size=batch, num_workers=self.cfg.num_workers)


def make_logger(train: TrainConfig, out_dir: Path, run: TrainingRun) -> Any:
    """CSV logging by default; TensorBoard or MLflow when selected and installed."""
    if train.logger == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(save_dir=str(out_dir), name="logs")
    if train.logger == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger
        from lightning.pytorch.loggers.tensorboard import _TENSORBOARD_AVAILABLE, _TENSORBOARDX_AVAILABLE

        if not (_TENSORBOARD_AVAILABLE or _TENSORBOARDX_AVAILABLE):
            raise ConfigError("logger 'tensorboard' needs the tensorboard package: pip install 'uqseg[tensorboard]'")
        return TensorBoardLogger(save_dir=str(out_dir), name="logs")
    from lightning.pytorch.loggers import MLFlowLogger
    from lightning.pytorch.loggers.mlflow import _MLFLOW_AVAILABLE

    if not _MLFLOW_AVAILABLE:
        raise ConfigError("logger 'mlflow' needs the mlflow package: pip install 'uqseg[mlflow]'")
    return MLFlowLogger(experiment_name="uqseg", run_name=run.key, tracking_uri=(out_dir / "mlruns").as_uri())


def _progress_callbacks(progress: bool) -> list[pl.Callback]:
    if not progress:
        return []
    from lightning.pytorch.callbacks import RichProgressBar

    return [RichProgressBar(leave=True)]


def train_run(
    run: TrainingRun,
    dataset: Dataset,
    out_dir: Path,
    *,
    progress: bool = True,
    model_factory: ckpt.ModelFactory | None = None,
    callbacks: Sequence[pl.Callback] = (),
) -> Path:
    """Train ``run`` on ``dataset`` into ``out_dir`` and return ``out_dir`` (docs/method.md §7).

    Returns at once when ``out_dir/COMPLETE`` exists; resumes from ``out_dir/checkpoints/last.ckpt`` otherwise.
    ``model_factory`` replaces ``uqseg.nn.build_model`` (tests); ``callbacks`` are added to Lightning's.
    """
    out_dir = Path(out_dir)
    if run.family == "subensemble":
        from uqseg.training.subensemble_fit import train_subensemble_run

        return train_subensemble_run(run, dataset, out_dir, model_factory=model_factory)
    if ckpt.is_complete(out_dir):
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = run.train
    pl.seed_everything(run.seed, workers=True, verbose=False)
    model = (model_factory or ckpt.default_model_factory)(run)
    cuda = uses_cuda(cfg)
    module = TrainingModule(model, cfg, run_key=run.key, seed=run.seed, cuda_features=cuda)
    swag = SwagCollector(cfg.swag_start_epoch(), cfg.swag_max_cols) if run.family == "shared" else None
    checkpointing = pl.callbacks.ModelCheckpoint(
        dirpath=out_dir / ckpt.CHECKPOINT_DIR,
        filename=Path(ckpt.LAST_CHECKPOINT).stem,
        monitor=None,
        save_top_k=1,
        every_n_epochs=cfg.checkpoint_every_n_epochs,
        save_on_train_epoch_end=True,
        enable_version_counter=False,
    )
    validate = cfg.val_every_n_epochs is not None
    snapshots = [SnapshotWriter(out_dir, cfg.snapshot_epochs, swag)] if cfg.snapshot_epochs else []
    extra = [*([swag] if swag else []), *snapshots, *callbacks, *_progress_callbacks(progress)]
    trainer = pl.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        strategy=cfg.strategy,
        precision=resolved_precision(cfg),
        max_epochs=cfg.epochs,
        limit_train_batches=cfg.limit_train_batches,
        limit_val_batches=1.0 if validate else 0,
        check_val_every_n_epoch=cfg.val_every_n_epochs or 1,
        num_sanity_val_steps=0,
        logger=make_logger(cfg, out_dir, run),
        log_every_n_steps=1,
        callbacks=[FiniteWeightsGuard(), *extra, checkpointing],
        enable_progress_bar=progress,
        enable_model_summary=False,
        use_distributed_sampler=False,
        default_root_dir=str(out_dir),
        plugins=[ckpt.AtomicCheckpointIO()],
    )
    resume = ckpt.last_checkpoint(out_dir)
    if resume is not None:
        ckpt.verify_checkpoint(resume)
    start = time.perf_counter()
    trainer.fit(module, datamodule=_SplitData(dataset, cfg, run.seed), ckpt_path=resume, weights_only=True)
    wall = time.perf_counter() - start
    if trainer.interrupted or trainer.current_epoch < cfg.epochs:
        raise UqsegError(f"training run {run.key} stopped at epoch {trainer.current_epoch} of {cfg.epochs}")
    if trainer.is_global_zero:
        _write_outputs(run, out_dir, module, swag, trainer, wall=wall, resumed=resume is not None)
    trainer.strategy.barrier("uqseg-train-outputs")
    return out_dir


def _write_outputs(
    run: TrainingRun,
    out_dir: Path,
    module: TrainingModule,
    swag: SwagCollector | None,
    trainer: pl.Trainer,
    *,
    wall: float,
    resumed: bool,
) -> None:
    """Write weights, SWAG state and run.json atomically, then the COMPLETE marker."""
    ckpt.save_weights(out_dir / ckpt.EMA_FILE, module.ema.shadow)
    ckpt.save_weights(out_dir / ckpt.RAW_FILE, module.model.state_dict())
    if swag is not None:
        if swag.state is None:
            raise UqsegError(f"training run {run.key} finished without collecting any SWAG moments")
        with atomic_path(out_dir / ckpt.SWAG_FILE) as tmp:
            swag.state.save(tmp)
    images = module.images_seen * trainer.world_size
    record = {
        "key": run.key,
        "run": run.to_dict(),
        "epochs": trainer.current_epoch,
        "resumed": resumed,
        "swag_epochs": swag.epochs if swag else [],
        "wall_time_s": wall,
        "images_seen": images,
        "images_per_s": images / wall if wall > 0 else None,
        "precision": resolved_precision(run.train),
        "world_size": trainer.world_size,
        "device": torch.cuda.get_device_name() if uses_cuda(run.train) else platform.processor() or "cpu",
        "torch": torch.__version__,
        "lightning": pl.__version__,
    }
    ckpt.write_run_record(out_dir, record)
    ckpt.mark_complete(out_dir)
