"""Exponential moving average of a model's weights (docs/method.md §7: decay 0.999, updated every optimiser step)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class EmaWeights:
    """Shadow copies of a model's state: floating-point entries follow ``ema ← d·ema + (1−d)·w``, others are copied.

    The state is a plain ``dict[str, Tensor]`` keyed like ``model.state_dict()``, so it can be stored in a
    checkpoint loadable with ``torch.load(weights_only=True)`` and written to safetensors.

    When the model's state is its parameters only (no buffers), ``update`` pairs every shadow tensor with its
    parameter once and then runs a single ``_foreach_lerp_`` per step instead of building a ``state_dict()``; the
    pairing is rebuilt whenever the model or a parameter's storage (``.to()``, ``.data =``) changes.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must lie in [0, 1), got {decay}")
        self.decay = decay
        self.shadow: dict[str, Tensor] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._paired: tuple[nn.Module, list[Tensor], list[Tensor], list[int]] | None = None

    def _pairs(self, model: nn.Module) -> tuple[list[Tensor], list[Tensor]] | None:
        """(shadows, parameters) to average, or None when the model's state holds more than float parameters."""
        if self._paired is not None:
            owner, shadows, params, pointers = self._paired
            if owner is model and pointers == [p.data_ptr() for p in params]:
                return shadows, params
        self._paired = None
        params = dict(model.named_parameters(remove_duplicate=False))
        if params.keys() != self.shadow.keys():
            return None
        shadows, live = [], []
        for name, param in params.items():
            shadow = self.shadow[name]
            if shadow.device != param.device:
                shadow = self.shadow[name] = shadow.to(param.device)
            if not param.is_floating_point() or param.dtype != shadow.dtype:
                return None
            shadows.append(shadow)
            live.append(param)
        self._paired = (model, shadows, live, [p.data_ptr() for p in live])
        return shadows, live

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One EMA step towards the model's current weights."""
        paired = self._pairs(model)
        if paired is not None:
            torch._foreach_lerp_(paired[0], paired[1], 1.0 - self.decay)
            return
        averaged, targets = [], []
        for name, value in model.state_dict().items():
            shadow = self.shadow[name]
            if shadow.device != value.device:
                shadow = self.shadow[name] = shadow.to(value.device)
            if value.is_floating_point():
                averaged.append(shadow)
                targets.append(value.detach().to(shadow.dtype))
            else:
                shadow.copy_(value)
        if averaged:
            torch._foreach_lerp_(averaged, targets, 1.0 - self.decay)

    def state_dict(self) -> dict[str, Tensor]:
        """CPU copies of the shadow weights."""
        return {k: v.detach().cpu().clone() for k, v in self.shadow.items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore shadow weights saved by ``state_dict``; the key sets must match."""
        if set(state) != set(self.shadow):
            missing, extra = set(self.shadow) - set(state), set(state) - set(self.shadow)
            raise ValueError(f"EMA state does not match the model: missing {sorted(missing)}, extra {sorted(extra)}")
        self.shadow = {k: state[k].detach().clone().to(self.shadow[k].device) for k in self.shadow}
        self._paired = None
