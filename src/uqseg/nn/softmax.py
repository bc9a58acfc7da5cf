"""Softmax AU model: cross-entropy against one random annotator per image (docs/method.md §5)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from uqseg.nn.base import AleatoricModel, check_n, random_annotator
from uqseg.nn.blocks import output_head
from uqseg.nn.config import ModelConfig
from uqseg.nn.unet import AttentionUNet


class SoftmaxModel(AleatoricModel):
    """The backbone with a GN-SiLU-conv head; every AU sample is the same softmax map."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.num_classes = cfg.num_classes
        self.in_channels = cfg.in_channels
        self.unet = AttentionUNet(cfg, cfg.in_channels)
        self.head = output_head(self.unet.out_channels, cfg.num_classes, cfg.group_norm_groups)

    def logits(self, images: Tensor) -> Tensor:
        """Class logits B×C×H×W."""
        return self.head(self.unet(images))

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Mean cross-entropy against one random annotator per image (docs/method.md §5)."""
        images, annotations = self.check_batch(batch)
        return F.cross_entropy(self.logits(images), random_annotator(annotations))

    def predict(self, images: Tensor) -> Tensor:
        """Softmax of the logits."""
        return self.logits(self.check_images(images)).softmax(1)

    def sample(self, images: Tensor, n: int) -> Tensor:
        """The softmax map repeated n times (no AU sampling), n×B×C×H×W."""
        probs = self.predict(images)
        return probs.unsqueeze(0).expand(check_n(n), *probs.shape)
