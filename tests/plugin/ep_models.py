"""Models for the entry-point and worker-process tests: ``Flat`` is a factory an entry point can name (importing
this module registers nothing); ``build_in_child`` runs in a spawned process."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from uqseg.nn import AleatoricModel, ModelConfig, build_model
from uqseg.nn.base import check_n


class Flat(AleatoricModel):
    """A 1×1 convolution to class logits; every AU sample is its softmax."""

    label = "Flat conv"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.num_classes, self.in_channels = cfg.num_classes, cfg.in_channels
        self.conv = nn.Conv2d(cfg.in_channels, cfg.num_classes, 1)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        images, annotations = self.check_batch(batch)
        return nn.functional.cross_entropy(self.conv(images), annotations[:, 0])

    def sample(self, images: Tensor, n: int) -> Tensor:
        probs = self.conv(self.check_images(images)).softmax(1)
        return probs.unsqueeze(0).expand(check_n(n), *probs.shape)


def not_a_model(cfg: ModelConfig) -> nn.Module:
    """A factory returning a plain module (refused by build_model)."""
    return nn.Identity()


def build_in_child(name: str) -> tuple[str, list[int]]:
    """Build AU model ``name`` in this (fresh) process: its class name and its sample shape on a 1×1×4×4 image."""
    model = build_model(name, ModelConfig(in_channels=1, image_size=4, base_width=8, channel_mult=(1, 2),
                                          group_norm_groups=8))
    return type(model).__name__, list(model.sample(torch.zeros(1, 1, 4, 4), 2).shape)
