"""A tiny multi-annotator dataset and a model config/factory for inference tests (16×16, width 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from epistemic_doubles import NoisyNet
from pydantic import BaseModel, ConfigDict

from uqseg.data.contract import Dataset, DatasetInfo, Split
from uqseg.training.plan import TrainingRun, run_directory, runs_for_combination


class TinyConfig(BaseModel):
    """Stand-in model config with the ``dropout`` field the run planner sets."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    in_channels: int = 1
    num_classes: int = 2
    width: int = 8
    noise: float = 1.0
    dropout: float = 0.0


def tiny_factory(run: TrainingRun) -> NoisyNet:
    cfg = run.model
    return NoisyNet(cfg.in_channels, cfg.num_classes, cfg.width, cfg.noise, cfg.dropout, seed=run.seed)


def tiny_dataset(sizes: dict[str, int] | None = None, size: int = 16, annotators: int = 3, seed: int = 0) -> Dataset:
    """Discs whose radius annotators disagree on; an oracle; an OOD split with heavy noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    sizes = {"train": 8, "val": 4, "test": 4, "ood-noise": 4, **(sizes or {})}

    def make(name: str, n: int) -> Split:
        images = np.zeros((n, 1, size, size), np.float32)
        annotations = np.zeros((n, annotators, size, size), np.int64)
        for i in range(n):
            cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
            r = rng.uniform(size * 0.15, size * 0.3)
            dist = np.hypot(yy - cy, xx - cx)
            noise = 1.0 if name.startswith("ood") else 0.2
            images[i, 0] = (dist < r).astype(np.float32) + rng.normal(0, noise, (size, size))
            for k in range(annotators):
                annotations[i, k] = dist < r * (0.8 + 0.2 * k)
        p1 = annotations.mean(1)
        oracle = np.stack([1 - p1, p1], 1).astype(np.float32)
        return Split(name, images, annotations, oracle)

    info = DatasetInfo("tiny", 2, 1, annotators, (size, size), ("ood-noise",))
    return Dataset(info, {name: make(name, n) for name, n in sizes.items()})


def train_doubles(root: Path, au: str, eu: str, data: Dataset, model: BaseModel, train: Any,
                  ensemble_size: int) -> list[tuple[TrainingRun, Path]]:
    """Train every run ``au+eu`` needs with the test-double network into ``root/training/<key>``."""
    from uqseg.training.train import train_run

    runs = runs_for_combination(au, eu, dataset="tiny", dataset_options={}, seed=0, model=model, train=train,
                                ensemble_size=ensemble_size)
    return [(run, train_run(run, data, run_directory(root, run), progress=False, model_factory=tiny_factory))
            for run in runs]


def evaluate_doubles(root: Path, au: str, eu: str, data: Dataset, train: Any, infer: Any) -> Path:
    """Train (test doubles), predict every evaluated split into ``root/predictions`` and return that folder."""
    from uqseg.inference.predict import load_method, predict_split

    done = train_doubles(root, au, eu, data, TinyConfig(), train, infer.ensemble_size)
    method = load_method(au, eu, [p for _, p in done], [r for r, _ in done], infer, model_factory=tiny_factory)
    out = root / "predictions"
    for split in ("val", "test", *data.info.ood_splits):
        predict_split(au, eu, method, data.split(split), out / f"{split}.h5", infer)
    return out
