"""G instances of one AU model as one network over an instance-major batch (batched EU instances).

``stack_instances(model, weight_sets)`` copies ``model`` and swaps every parametric layer for a stacked version that
holds the G weight sets and applies set g to the g-th contiguous block of the batch (rows g·N … g·N + N − 1): a
convolution becomes one grouped convolution, a linear layer one batched matmul, a GroupNorm one normalisation
plus a per-instance affine. Every other operation runs on the G·N rows unchanged, so the AU sampler, the heads and
the skips need no change. Images tiled G times instance-major give all G instances in one call.

The per-instance correspondence is exact: block g of the stacked network's output on a tiled batch equals instance
g run alone on the same tiled batch with the same RNG state (the AU noise is drawn for all G·N rows at once, so
instances in a group get independent noise, as in the reference loop over instances). It relies on the AU model
keeping the instance-major row order through its sampler (``uqseg.nn`` models keep the image index outermost),
the same contract MC dropout's fixed masks use (``uqseg.nn.dropout``).
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uqseg.epistemic.base import EpistemicMethod
from uqseg.nn.base import sample_tiled


class StackingUnsupported(RuntimeError):
    """The model holds a parametric layer that has no stacked version."""


def _stack(weight_sets: Sequence[Mapping[str, Tensor]], name: str) -> Tensor:
    return torch.stack([weights[name].detach() for weights in weight_sets])


def _blocks(x: Tensor, groups: int) -> Tensor:
    """x (G·N, …) viewed as G×N×…, checking that the batch splits into ``groups`` blocks."""
    if x.shape[0] % groups:
        raise ValueError(f"a batch of {x.shape[0]} rows does not split into {groups} stacked instances")
    return x.reshape(groups, x.shape[0] // groups, *x.shape[1:])


class StackedConv(nn.Module):
    """G convolutions (1-D or 2-D) as one grouped convolution over the channel-stacked blocks."""

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, weight: Tensor, bias: Tensor | None) -> None:
        super().__init__()
        self.instances = weight.shape[0]
        self.weight = nn.Parameter(weight.flatten(0, 1), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.flatten(), requires_grad=False)
        self.conv = F.conv2d if isinstance(conv, nn.Conv2d) else F.conv1d
        self.padding_mode = conv.padding_mode
        self.border = conv._reversed_padding_repeated_twice
        padding = conv.padding if self.padding_mode == "zeros" else 0
        self.options = {"stride": conv.stride, "padding": padding, "dilation": conv.dilation,
                        "groups": conv.groups * self.instances}

    def forward(self, x: Tensor) -> Tensor:
        g = self.instances
        blocks = _blocks(x, g)
        n = blocks.shape[1]
        wide = blocks.transpose(0, 1).reshape(n, g * x.shape[1], *x.shape[2:])
        if self.padding_mode != "zeros":
            wide = F.pad(wide, self.border, mode=self.padding_mode)
        out = self.conv(wide, self.weight, self.bias, **self.options)
        return out.reshape(n, g, -1, *out.shape[2:]).transpose(0, 1).reshape(g * n, -1, *out.shape[2:])


class StackedLinear(nn.Module):
    """G linear layers as one batched matmul over the row blocks."""

    def __init__(self, weight: Tensor, bias: Tensor | None) -> None:
        super().__init__()
        self.weight_t = nn.Parameter(weight.transpose(1, 2).contiguous(), requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias.unsqueeze(1), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        g = self.weight_t.shape[0]
        rows = _blocks(x, g).reshape(g, -1, x.shape[-1])
        out = torch.bmm(rows, self.weight_t) if self.bias is None else torch.baddbmm(self.bias, rows, self.weight_t)
        return out.reshape(*x.shape[:-1], out.shape[-1])


class StackedGroupNorm(nn.Module):
    """G GroupNorms: one normalisation of all rows, then each block's own affine."""

    def __init__(self, norm: nn.GroupNorm, weight: Tensor | None, bias: Tensor | None) -> None:
        super().__init__()
        self.num_groups, self.eps = norm.num_groups, norm.eps
        self.weight = None if weight is None else nn.Parameter(weight, requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        y = F.group_norm(x, self.num_groups, None, None, self.eps)
        if self.weight is None:
            return y
        g, c = self.weight.shape
        blocks = _blocks(y, g).reshape(g, -1, c, y[0, 0].numel())
        out = torch.addcmul(self.bias[:, None, :, None], blocks, self.weight[:, None, :, None])
        return out.reshape(x.shape)


def _stacked_layer(name: str, module: nn.Module, weight_sets: Sequence[Mapping[str, Tensor]]) -> nn.Module:
    def param(key: str) -> Tensor | None:
        return None if getattr(module, key) is None else _stack(weight_sets, f"{name}.{key}")

    if type(module) in (nn.Conv1d, nn.Conv2d):
        return StackedConv(module, param("weight"), param("bias"))
    if type(module) is nn.Linear:
        return StackedLinear(param("weight"), param("bias"))
    if type(module) is nn.GroupNorm:
        return StackedGroupNorm(module, param("weight"), param("bias"))
    raise StackingUnsupported(f"layer {name!r} ({type(module).__name__}) has parameters but no stacked version")


def stack_instances(model: nn.Module, weight_sets: Sequence[Mapping[str, Tensor]]) -> nn.Module:
    """A copy of ``model`` whose parametric layers hold the G = len(weight_sets) weight sets (named as in
    ``model.named_parameters()``); block g of an instance-major batch goes through weight set g. Buffers are the
    model's own. Raises StackingUnsupported for a parametric layer without a stacked version."""
    if not weight_sets:
        raise ValueError("stack_instances needs at least one weight set")
    stacked = copy.deepcopy(model).eval().requires_grad_(False)
    leaves = [(name, module) for name, module in stacked.named_modules() if module._parameters]
    for name, module in leaves:
        layer = _stacked_layer(name, module, weight_sets)
        parent, _, child = name.rpartition(".")
        setattr(stacked.get_submodule(parent), child, layer)
    return stacked


@contextlib.contextmanager
def loaded_parameters(model: nn.Module, weights: Mapping[str, Tensor]) -> Iterator[nn.Module]:
    """``model`` with its parameters temporarily replaced by ``weights`` (one instance of a weight-set EU method,
    docs/method.md §6), restored on exit."""
    params = dict(model.named_parameters())
    original = {k: p.detach().clone() for k, p in params.items()}
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(weights[k])
    try:
        yield model
    finally:
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(original[k])


class StackableMethod(EpistemicMethod):
    """An EU method whose instances are weight sets of one architecture (ensemble, SWAG): a group of instances is
    evaluated as one stacked network, cached for the last group; the per-instance loop is the fallback."""

    batched: bool = True
    _stacked: tuple[tuple[int, ...], nn.Module] | None = None

    @abstractmethod
    def weight_sets(self, ms: list[int]) -> tuple[nn.Module, list[Mapping[str, Tensor]]]:
        """The architecture (with the shared buffers) and the parameters of instances ``ms``; raises
        StackingUnsupported when the instances cannot share one network."""

    def _sample_batched(self, images: Tensor, n: int, ms: list[int], seed: int) -> Tensor:
        if not self.batched or len(ms) == 1:
            return self.sample_reference(images, n, ms, seed)
        if self._stacked is None or self._stacked[0] != tuple(ms):
            try:
                self._stacked = (tuple(ms), stack_instances(*self.weight_sets(ms)))
            except StackingUnsupported as err:
                warnings.warn(f"{err}; evaluating {self.name} instances one by one", RuntimeWarning, stacklevel=3)
                self.batched = False
                return self.sample_reference(images, n, ms, seed)
        torch.manual_seed(seed)
        return sample_tiled(self._stacked[1], images, n, len(ms))
