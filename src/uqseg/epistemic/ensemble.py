"""Deep ensemble (SPEC §6): instance m is member m, a model trained from its own random initialisation.

The batched path stacks the members' weights with ``torch.func.stack_module_state`` and evaluates a group of
members in one ``vmap`` call (issue 9); it falls back to the per-member loop when the AU sampler cannot be vmapped.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.func import stack_module_state

from uqseg.epistemic.base import EpistemicMethod
from uqseg.epistemic.functional import VmapUnsupported, vmap_sample
from uqseg.errors import ConfigError
from uqseg.nn.base import AleatoricModel


class Ensemble(EpistemicMethod):
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
        self._stacked: dict[str, Tensor] | None = None

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

    def _stack(self) -> dict[str, Tensor]:
        if self._stacked is None:
            params, buffers = stack_module_state(self.members)
            self._stacked = {k: v.detach() for k, v in {**params, **buffers}.items()}
        return self._stacked

    def _sample_batched(self, images: Tensor, n: int, ms: list[int], seed: int) -> Tensor:
        if not self.batched or len(ms) == 1:
            return self.sample_reference(images, n, ms, seed)
        index = torch.tensor(ms, device=images.device)
        stacked = {k: v.index_select(0, index.to(v.device)) for k, v in self._stack().items()}
        try:
            return vmap_sample(self.members[0], stacked, {}, images, n, seed)
        except VmapUnsupported as err:
            warnings.warn(f"{err}; evaluating ensemble members one by one", RuntimeWarning, stacklevel=2)
            self.batched = False
            return self.sample_reference(images, n, ms, seed)
