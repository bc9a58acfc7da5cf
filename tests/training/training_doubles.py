"""Test doubles for training tests: a tiny AU model, its config, a tiny in-memory dataset, a SWAG state stand-in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from uqseg.data.contract import Dataset, DatasetInfo, Split
from uqseg.nn.base import AleatoricModel
from uqseg.training.config import TrainConfig
from uqseg.training.plan import TrainingRun


class TinyConfig(BaseModel):
    """Stand-in for uqseg.nn.config.ModelConfig."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    in_channels: int = 1
    num_classes: int = 2
    width: int = 8
    dropout: float = 0.0


class TinyModel(AleatoricModel):
    """Two 3×3 convs; cross-entropy against one random annotator per image; optional NaN loss after N calls."""

    def __init__(self, cfg: TinyConfig, nan_after: int | None = None):
        super().__init__()
        self.num_classes = cfg.num_classes
        self.net = nn.Sequential(
            nn.Conv2d(cfg.in_channels, cfg.width, 3, padding=1),
            nn.GroupNorm(2, cfg.width),
            nn.SiLU(),
            nn.Dropout2d(cfg.dropout),
            nn.Conv2d(cfg.width, cfg.num_classes, 3, padding=1),
        )
        self.nan_after = nan_after
        self.calls = 0
        self.epochs_seen: list[int] = []

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        self.calls += 1
        annotations = batch["annotations"]
        pick = torch.randint(annotations.shape[1], (annotations.shape[0],), device=annotations.device)
        target = annotations[torch.arange(annotations.shape[0]), pick]
        loss = F.cross_entropy(self(batch["image"]), target)
        if self.nan_after is not None and self.calls > self.nan_after:
            loss = loss * float("nan")
        return loss

    def sample(self, images: Tensor, n: int) -> Tensor:
        return torch.softmax(self(images), dim=1).unsqueeze(0).expand(n, -1, -1, -1, -1)

    def set_epoch(self, epoch: int) -> None:
        self.epochs_seen.append(epoch)


def tiny_factory(run: TrainingRun) -> TinyModel:
    return TinyModel(run.model)


def tiny_dataset(n_train: int = 16, size: int = 16, annotators: int = 3, seed: int = 0) -> Dataset:
    """Discs whose radius the annotators disagree on; a learnable but noisy 2-class task."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]

    def make(name: str, n: int) -> Split:
        images = np.zeros((n, 1, size, size), np.float32)
        annotations = np.zeros((n, annotators, size, size), np.int64)
        for i in range(n):
            cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
            r = rng.uniform(size * 0.15, size * 0.3)
            dist = np.hypot(yy - cy, xx - cx)
            images[i, 0] = (dist < r).astype(np.float32) + rng.normal(0, 0.3, (size, size))
            for k in range(annotators):
                annotations[i, k] = dist < r * (0.8 + 0.2 * k)
        return Split(name, images, annotations)

    info = DatasetInfo("tiny", 2, 1, annotators, (size, size), ("ood-noise",))
    splits = {name: make(name, n) for name, n in (("train", n_train), ("val", 4), ("test", 4), ("ood-noise", 4))}
    return Dataset(info, splits)


class FakeSwagState:
    """Stand-in for uqseg.epistemic.swag.SwagState (used only while the real one does not exist)."""

    def __init__(self, mean: dict[str, Tensor], sq_mean: dict[str, Tensor], n: int, max_cols: int, cols: list):
        self.mean, self.sq_mean, self.n, self.max_cols, self.cols = mean, sq_mean, n, max_cols, cols

    @classmethod
    def empty(cls, params: dict[str, Tensor], max_cols: int) -> FakeSwagState:
        zeros = {k: torch.zeros_like(v, dtype=torch.float64).cpu() for k, v in params.items()}
        return cls(zeros, {k: v.clone() for k, v in zeros.items()}, 0, max_cols, [])

    def update(self, params: dict[str, Tensor]) -> None:
        self.n += 1
        for k, v in params.items():
            w = v.detach().cpu().double()
            self.mean[k] += (w - self.mean[k]) / self.n
            self.sq_mean[k] += (w * w - self.sq_mean[k]) / self.n
        self.cols = [*self.cols, {k: v.detach().cpu().double() - self.mean[k] for k, v in params.items()}]
        self.cols = self.cols[-self.max_cols :]

    def save(self, path: Path) -> None:
        tensors = {f"mean.{k}": v for k, v in self.mean.items()}
        tensors.update({f"sq_mean.{k}": v for k, v in self.sq_mean.items()})
        tensors.update({f"col{i}.{k}": v for i, c in enumerate(self.cols) for k, v in c.items()})
        tensors["n"] = torch.tensor(self.n)
        tensors["max_cols"] = torch.tensor(self.max_cols)
        save_file(tensors, str(path))

    @classmethod
    def load(cls, path: Path) -> FakeSwagState:
        t = load_file(str(path))
        mean = {k[5:]: v for k, v in t.items() if k.startswith("mean.")}
        sq = {k[8:]: v for k, v in t.items() if k.startswith("sq_mean.")}
        ncols = len({k.split(".")[0] for k in t if k.startswith("col")})
        cols = [{k[len(f"col{i}.") :]: v for k, v in t.items() if k.startswith(f"col{i}.")} for i in range(ncols)]
        return cls(mean, sq, int(t["n"]), int(t["max_cols"]), cols)



def make_run(
    *, family: str = "shared", epochs: int = 3, seed: int = 0, member: int = 1, **train: object
) -> TrainingRun:
    options = {"batch_size": 4, "swag_epochs": 2, "swag_max_cols": 2, "ema_decay": 0.9, "lr": 1e-2, **train}
    return TrainingRun(
        dataset="tiny",
        dataset_options={"n_train": 16},
        au="softmax",
        family=family,
        member=member,
        seed=seed,
        model=TinyConfig(dropout=0.2 if family == "dropout" else 0.0),
        train=TrainConfig(epochs=epochs, seed=seed, accelerator="cpu", **options),
    )
