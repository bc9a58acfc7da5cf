"""MC dropout with one fixed channel mask per EU instance (docs/method.md §6; paper §3.4).

``MCDropout2d`` behaves like ``nn.Dropout2d`` (fresh masks in train mode, identity in eval mode) until masks are
fixed. Inside ``fixed_dropout(model, seeds)`` every ``MCDropout2d`` of the model holds one channel mask per instance
(shape G×C, drawn from that instance's own seed) and applies mask g to the g-th contiguous block of the batch
(instance-major layout G·B). The masks stay fixed for every call in the block: all AU samples and all diffusion
steps of an instance see the same network, and instance m is the same network whatever else is batched with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uqseg.errors import ConfigError, InputError
from uqseg.nn.base import sample_tiled


class MCDropout2d(nn.Module):
    """Channel-wise dropout whose masks can be fixed per EU instance (docs/method.md §6)."""

    def __init__(self, channels: int, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout rate must be in [0, 1), got {p}")
        self.channels = channels
        self.p = p
        self.masks: Tensor | None = None

    def draw_mask(self, generator: torch.Generator) -> Tensor:
        """One scaled channel mask (C,) drawn from ``generator`` (on the CPU, so seeds are device-independent)."""
        keep = torch.rand(self.channels, generator=generator) >= self.p
        return keep.float() / (1.0 - self.p)

    def forward(self, x: Tensor) -> Tensor:
        if self.p == 0.0:
            return x
        if self.masks is not None:
            groups = self.masks.shape[0]
            if x.shape[0] % groups:
                raise InputError(f"batch of {x.shape[0]} does not split into {groups} dropout instances")
            blocks = x.reshape(groups, x.shape[0] // groups, *x.shape[1:])
            masks = self.masks.to(dtype=x.dtype, device=x.device)
            return (blocks * masks[:, None, :, None, None]).reshape(x.shape)
        return F.dropout2d(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, p={self.p}"


def dropout_layers(model: nn.Module) -> list[MCDropout2d]:
    """The model's active MC-dropout layers (p > 0), in module order."""
    return [m for m in model.modules() if isinstance(m, MCDropout2d) and m.p > 0.0]


@contextmanager
def fixed_dropout(model: nn.Module, seeds: Sequence[int]) -> Iterator[None]:
    """Fix one dropout mask per instance, instance g drawn from ``seeds[g]``, for every call inside the block.

    Batches inside the block must be instance-major: G = len(seeds) contiguous blocks of equal size. Raises
    ConfigError when the model has no dropout (p > 0) or ``seeds`` is empty. Masks are released on exit.
    """
    layers = dropout_layers(model)
    if not layers:
        raise ConfigError("model has no MC dropout layers (set dropout > 0 in the model config)")
    if len(seeds) == 0:
        raise ConfigError("fixed_dropout needs at least one seed")
    previous = [layer.masks for layer in layers]
    per_instance = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(int(seed))
        per_instance.append([layer.draw_mask(generator) for layer in layers])
    try:
        for i, layer in enumerate(layers):
            layer.masks = torch.stack([masks[i] for masks in per_instance])
        yield
    finally:
        for layer, masks in zip(layers, previous, strict=True):
            layer.masks = masks


def sample_instances(model: nn.Module, images: Tensor, n: int, seeds: Sequence[int]) -> Tensor:
    """``n`` AU samples for each of G = len(seeds) fixed-dropout instances in one batched call: G×n×B×C×H×W.

    The model must provide ``sample(images, n) -> n×B×C×H×W`` (``AleatoricModel``); images are tiled instance-major.
    """
    with fixed_dropout(model, seeds):
        return sample_tiled(model, images, n, len(seeds))
