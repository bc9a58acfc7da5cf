"""MC dropout with fixed masks (docs/method.md §6, §9.3): instance m keeps one mask, from its own seed, across
all its AU samples and all diffusion steps.

Masks come from ``uqseg.nn.dropout.fixed_dropout(model, seeds)``, which fixes one mask per seed and, given G
seeds, expects the G instances batched instance-major along the batch axis (row g·B + b is image b of instance g).
The batched path (``uqseg.nn.dropout.sample_instances``) therefore tiles the images G times and runs the AU sampler
once. It equals the per-instance
loop exactly for a deterministic AU sampler (softmax); for stochastic AU models the AU noise is drawn for the G·B
rows together, so it equals the loop in distribution, not draw by draw.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

from uqseg.epistemic.base import EpistemicMethod, instance_seed
from uqseg.errors import ConfigError
from uqseg.nn.base import AleatoricModel
from uqseg.nn.dropout import fixed_dropout, sample_instances


class MCDropout(EpistemicMethod):
    """M fixed-mask dropout instances of a model trained with dropout."""

    name = "dropout"

    def __init__(self, model: AleatoricModel, *, num_instances: int = 10, seed: int = 0, batched: bool = True):
        if num_instances < 1:
            raise ConfigError(f"MC dropout needs at least one instance, got {num_instances}")
        self.model = model.eval()
        self.seed, self.batched = seed, batched
        self._m = num_instances

    @property
    def num_instances(self) -> int:
        return self._m

    @property
    def num_classes(self) -> int:
        return int(self.model.num_classes)

    def to(self, device: torch.device | str) -> MCDropout:
        self.model.to(device)
        return self

    def seeds(self, ms: list[int]) -> list[int]:
        """The mask seeds of instances ``ms``."""
        return [instance_seed(self.seed, m, self.name) for m in ms]

    @contextlib.contextmanager
    def _open(self, m: int) -> Iterator[AleatoricModel]:
        with fixed_dropout(self.model, self.seeds([m])):
            yield self.model

    def _sample_batched(self, images: Tensor, n: int, ms: list[int], seed: int) -> Tensor:
        if not self.batched or len(ms) == 1:
            return self.sample_reference(images, n, ms, seed)
        torch.manual_seed(seed)
        return sample_instances(self.model, images, n, self.seeds(ms))
