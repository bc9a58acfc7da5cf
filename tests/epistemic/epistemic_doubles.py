"""Tiny AU-model doubles for EU-method and inference tests: width-8 convs, optional AU noise and MC dropout."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uqseg.nn.base import AleatoricModel
from uqseg.nn.dropout import MCDropout2d


class NoisyNet(AleatoricModel):
    """conv → SiLU → MC dropout → conv; samples softmax(logits + noise·ε), ε ~ N(0, 1) from the global RNG."""

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 8, noise: float = 1.0,
                 dropout: float = 0.0, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.num_classes = num_classes
        self.noise = noise
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.drop = MCDropout2d(width, dropout)
        self.conv2 = nn.Conv2d(width, num_classes, 3, padding=1)

    def logits(self, images: Tensor) -> Tensor:
        return self.conv2(self.drop(F.silu(self.conv1(images))))

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        return F.cross_entropy(self.logits(batch["image"]), batch["annotations"][:, 0])

    def sample(self, images: Tensor, n: int) -> Tensor:
        logits = self.logits(images)
        eps = torch.randn((n, *logits.shape), device=logits.device, dtype=logits.dtype)
        return torch.softmax(logits.unsqueeze(0) + self.noise * eps, dim=2)


class Scale(nn.Module):
    """A learnable per-channel scale: a parametric layer with no stacked version."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.ones(channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gain


class ScaledNet(NoisyNet):
    """NoisyNet with a ``Scale`` layer, which ``uqseg.epistemic.stacked`` cannot stack."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.scale = Scale(self.num_classes)

    def logits(self, images: Tensor) -> Tensor:
        return self.scale(super().logits(images))
