"""The interface every aleatoric (AU) model shares (SPEC §5).

A batch is a dict with ``image`` (B×C×H×W float) and ``annotations`` (B×K×H×W int64 class indices, all K
annotators); each model picks what it needs from it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn


class AleatoricModel(nn.Module, ABC):
    """An AU model: a training loss and a sampler of per-pixel class probabilities."""

    num_classes: int

    @abstractmethod
    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Scalar training loss for one batch."""

    @abstractmethod
    def sample(self, images: Tensor, n: int) -> Tensor:
        """``n`` samples of class probabilities, shape n×B×C×H×W."""

    def predict(self, images: Tensor) -> Tensor:
        """Deterministic class probabilities B×C×H×W; by default the mean of 10 samples."""
        return self.sample(images, 10).mean(0)

    def set_epoch(self, epoch: int) -> None:
        """Called at the start of every training epoch, for warm-ups (SSN mean-only, Prob. UNet β)."""

    @torch.no_grad()
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
