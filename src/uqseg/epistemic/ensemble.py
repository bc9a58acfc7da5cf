"""Deep ensemble (docs/method.md §6): instance m is member m, a model trained from its own random initialisation.

The batched path stacks a group of members into one network (``uqseg.epistemic.stacked``) and evaluates them in
one call on the images tiled instance-major; it falls back to the per-member loop when the model holds a
layer without a stacked version.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor, nn

from uqseg.epistemic.stacked import StackableMethod, StackingUnsupported
from uqseg.errors import ConfigError
from uqseg.nn.base import AleatoricModel


class Ensemble(StackableMethod):
    """M trained members of one AU model architecture."""

    name = "ensemble"

    def __init__(self, members: Sequence[AleatoricModel], *, batched: bool = True):
        if len(members) < 1:
            raise ConfigError("an ensemble needs at least one member")
        keys = [tuple(m.state_dict()) for m in members]
        if any(k != keys[0] for k in keys):
            raise ConfigError("ensemble members must share one architecture (their state dict names differ)")
        self.members = [m.eval() for m in members]
        self.batched = batched

    @property
    def num_instances(self) -> int:
        return len(self.members)

    @property
    def num_classes(self) -> int:
        return int(self.members[0].num_classes)

    @contextlib.contextmanager
    def _open(self, m: int) -> Iterator[AleatoricModel]:
        yield self.members[m]

    def to(self, device: torch.device | str) -> Ensemble:
        for member in self.members:
            member.to(device)
        self._stacked = None
        return self

    def weight_sets(self, ms: list[int]) -> tuple[nn.Module, list[dict[str, Tensor]]]:
        first = self.members[ms[0]]
        for m in ms[1:]:
            for (name, a), (_, b) in zip(first.named_buffers(), self.members[m].named_buffers(), strict=True):
                if not torch.equal(a, b):
                    raise StackingUnsupported(f"members {ms[0]} and {m} differ in buffer {name!r}")
        return first, [dict(self.members[m].named_parameters()) for m in ms]
