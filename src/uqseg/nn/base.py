"""The interface every aleatoric (AU) model shares (docs/method.md §5), and batch checks.

A batch is a dict with ``image`` (B×C×H×W float) and ``annotations`` (B×K×H×W int64 class indices, all K
annotators; a map of ``ABSENT`` marks an annotator who did not annotate that image); each model picks what it needs
from it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from uqseg.data.contract import ABSENT
from uqseg.errors import InputError


class AleatoricModel(nn.Module, ABC):
    """An AU model: a training loss and a sampler of per-pixel class probabilities."""

    num_classes: int
    in_channels: int
    #: Submodules (qualified names) that sub-ensemble masks leave alone: parts whose job is not the EU instance's
    #: prediction, e.g. Prob. UNet's latent nets (docs/method.md "Sub-ensembles from one network").
    subensemble_exempt: tuple[str, ...] = ()

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

    def check_images(self, images: Tensor) -> Tensor:
        """Validate a B×C×H×W float image batch; raise InputError otherwise."""
        if not isinstance(images, Tensor) or images.dim() != 4 or not images.is_floating_point():
            raise InputError("images must be a float tensor of shape B×C×H×W")
        if images.shape[1] != self.in_channels:
            raise InputError(f"images have {images.shape[1]} channels, the model expects {self.in_channels}")
        if images.shape[0] == 0:
            raise InputError("images batch is empty")
        return images

    def check_batch(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Validate a training batch (docs/method.md §5) and return (images, annotations B×K×H×W int64)."""
        if "image" not in batch or "annotations" not in batch:
            raise InputError("batch needs 'image' and 'annotations'")
        images = self.check_images(batch["image"])
        annotations = batch["annotations"]
        if not isinstance(annotations, Tensor) or annotations.dim() != 4 or annotations.dtype != torch.int64:
            raise InputError("annotations must be an int64 tensor of shape B×K×H×W")
        if annotations.shape[0] != images.shape[0] or annotations.shape[2:] != images.shape[2:]:
            raise InputError(f"annotations {tuple(annotations.shape)} do not match images {tuple(images.shape)}")
        if annotations.shape[1] == 0:
            raise InputError("annotations have no annotator")
        if annotations.min() < ABSENT or annotations.max() >= self.num_classes:
            raise InputError(f"annotation values must lie in [0, {self.num_classes}) or be ABSENT ({ABSENT}); found "
                             f"values from {int(annotations.min())} to {int(annotations.max())}")
        if annotations.min() == ABSENT and not (annotations[:, :, 0, 0] != ABSENT).any(1).all():
            raise InputError("an image of the batch has no annotator present")
        return images, annotations


def check_n(n: int) -> int:
    """Validate a sample count."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"number of samples must be a positive integer, got {n!r}")
    return n


def random_annotator(annotations: Tensor) -> Tensor:
    """One annotator drawn uniformly per image with torch's RNG: B×K×H×W → B×H×W (docs/method.md §5); among the
    present annotators when some are ``ABSENT``."""
    if annotations.min() == ABSENT:
        present = (annotations[:, :, 0, 0] != ABSENT).double()
        pick = torch.multinomial(present, 1).squeeze(1)
    else:
        pick = torch.randint(annotations.shape[1], (annotations.shape[0],), device=annotations.device)
    return annotations[torch.arange(annotations.shape[0], device=annotations.device), pick]


def sample_tiled(model: AleatoricModel, images: Tensor, n: int, groups: int) -> Tensor:
    """``n`` AU samples for each of ``groups`` instances of ``model`` in one sampler call, G×n×B×C×H×W: the images
    are tiled G times instance-major (row g·B + b is image b of instance g), the layout MC dropout's fixed masks and
    stacked EU instances expect."""
    batch = images.shape[0]
    samples = model.sample(images.repeat(groups, *([1] * (images.dim() - 1))), n)
    return samples.reshape(n, groups, batch, *samples.shape[2:]).transpose(0, 1)
