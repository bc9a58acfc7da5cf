"""Test-time augmentation as an AU model (docs/method.md, "TTA as an AU model").

A plain softmax network whose n AU samples are its softmax predictions on n randomly augmented copies of each image,
each mapped back to the image's frame (``uqseg.nn.tta_transforms``). It has the softmax model's parameters under the
same names, so a softmax checkpoint loads into it unchanged: trained without augmentation (the default, as the
authors' base networks) it *is* the softmax run's network. The n·B copies run as one batch, each image's copies
contiguous (image-major), so the fixed MC-dropout masks and stacked EU instances, which split the batch into
instance-major blocks, see every copy of an image under its own instance. ``predict`` stays the network's softmax on
the image itself (what training validates).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from uqseg.nn.base import check_n, random_annotator
from uqseg.nn.config import ModelConfig
from uqseg.nn.softmax import SoftmaxModel
from uqseg.nn.tta_transforms import AugmentSet, augment, augment_set, draw_augmentations, invert, warp_forward


def seeded_generator() -> torch.Generator:
    """A CPU generator seeded from torch's global RNG, so augmentations follow ``torch.manual_seed``."""
    return torch.Generator().manual_seed(int(torch.randint(2**62, (1,))))


class TTAModel(SoftmaxModel):
    """Softmax network sampled through test-time augmentation (docs/method.md, "TTA as an AU model")."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        tta = cfg.tta
        self.augment_set: AugmentSet = augment_set(tta.augment, tta.noise_variance, tta.noise_per_channel)
        self.train_set: AugmentSet | None = None
        if tta.train_augment != "none":
            self.train_set = augment_set(tta.train_augment, tta.noise_variance, tta.noise_per_channel)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """The softmax loss; with a training set, on a fresh augmentation of each image and its annotator's mask
        (nearest, outside the image background)."""
        if self.train_set is None:
            return super().loss(batch)
        images, annotations = self.check_batch(batch)
        target = random_annotator(annotations)
        draw = draw_augmentations(self.train_set, images.shape[0], self.in_channels, seeded_generator())
        labels = warp_forward(target[:, None].to(images.dtype), draw, mode="nearest")[:, 0].round().long()
        return F.cross_entropy(self.logits(augment(images, draw)), labels)

    def sample(self, images: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n TTA samples n×B×C×H×W: softmax on n augmented copies of each image, each inverted to the image's frame.

        The augmentations come from ``generator`` (a CPU generator), by default one seeded from the global RNG.
        """
        images = self.check_images(images)
        n = check_n(n)
        b, _, h, w = images.shape
        draw = draw_augmentations(self.augment_set, b * n, self.in_channels, generator or seeded_generator())
        probs = self.logits(augment(images.repeat_interleave(n, dim=0), draw)).softmax(1)
        return invert(probs, draw).reshape(b, n, self.num_classes, h, w).transpose(0, 1)
