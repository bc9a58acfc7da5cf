"""Several weight sets of one AU model evaluated together with ``torch.func`` (issue 9 "Batched EU instances").

``vmap_sample`` runs ``model.sample(images, n)`` once per stacked weight set under ``torch.func.vmap`` with
``randomness="same"``, so every weight set sees the same AU noise (see ``uqseg.epistemic.base``). Models whose
sampler cannot run under vmap (data-dependent Python control flow, ops without a batching rule) raise
``VmapUnsupported``; callers then fall back to the per-instance loop.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from uqseg.nn.base import AleatoricModel

PREFIX = "model."


class VmapUnsupported(RuntimeError):
    """The AU model's sampler cannot run under torch.func.vmap."""


class _Sampler(nn.Module):
    """Wraps an AU model so that ``forward`` is its sampler (functional_call calls ``forward``)."""

    def __init__(self, model: AleatoricModel, n: int):
        super().__init__()
        self.model = model
        self.n = n

    def forward(self, images: Tensor) -> Tensor:
        return self.model.sample(images, self.n)


def vmap_sample(
    model: AleatoricModel, stacked: dict[str, Tensor], shared: dict[str, Tensor], images: Tensor, n: int, seed: int
) -> Tensor:
    """G×n×B×C×H×W samples. ``stacked`` holds G-first tensors (names as in ``model.state_dict``), ``shared`` the
    remaining tensors, used by every weight set. The torch RNG is seeded with ``seed`` first, as the reference loop
    does before each instance."""
    wrapper = _Sampler(model, n)
    batched = {PREFIX + k: v for k, v in stacked.items()}
    common = {PREFIX + k: v for k, v in shared.items()}

    def call(p: dict[str, Tensor]) -> Tensor:
        return functional_call(wrapper, (p, common), (images,), strict=True)

    torch.manual_seed(seed)
    try:
        return vmap(call, randomness="same")(batched)
    except (RuntimeError, NotImplementedError, ValueError) as err:
        raise VmapUnsupported(f"{type(model).__name__}.sample cannot run under vmap: {err}") from err
