"""Exponential moving average of a model's weights (SPEC §7: decay 0.999, updated after every optimiser step)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class EmaWeights:
    """Shadow copies of a model's state: floating-point entries follow ``ema ← d·ema + (1−d)·w``, others are copied.

    The state is a plain ``dict[str, Tensor]`` keyed like ``model.state_dict()``, so it can be stored in a
    checkpoint loadable with ``torch.load(weights_only=True)`` and written to safetensors.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must lie in [0, 1), got {decay}")
        self.decay = decay
        self.shadow: dict[str, Tensor] = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One EMA step towards the model's current weights."""
        current = model.state_dict()
        averaged, targets = [], []
        for name, value in current.items():
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
