"""No EU (docs/method.md §1, §6): one instance, the trained AU model itself.

The No-EU convention (every AU sample is its own instance, M = S) is applied where the samples are accumulated
(``UncertaintyAccumulator.update_no_eu``), not here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from uqseg.epistemic.base import EpistemicMethod
from uqseg.nn.base import AleatoricModel


class NoEpistemic(EpistemicMethod):
    """The AU model alone."""

    name = "none"

    def __init__(self, model: AleatoricModel):
        self.model = model.eval()

    @property
    def num_instances(self) -> int:
        return 1

    @property
    def num_classes(self) -> int:
        return int(self.model.num_classes)

    @contextlib.contextmanager
    def _open(self, m: int) -> Iterator[AleatoricModel]:
        yield self.model

    def to(self, device: torch.device | str) -> NoEpistemic:
        self.model.to(device)
        return self
