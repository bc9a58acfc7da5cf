"""EMA weights (docs/method.md §7): the paired fast path equals the formula and follows storage changes."""

from __future__ import annotations

import torch
from torch import nn

from uqseg.training.ema import EmaWeights


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.GroupNorm(2, 4), nn.Conv2d(4, 2, 1))


def _step(model: nn.Module) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))


def _expected(before: dict[str, torch.Tensor], model: nn.Module, decay: float) -> dict[str, torch.Tensor]:
    return {k: decay * before[k] + (1 - decay) * v for k, v in model.state_dict().items()}


def test_update_follows_the_formula_and_a_changed_parameter_storage() -> None:
    model = _net()
    ema = EmaWeights(model, 0.8)
    for _ in range(3):
        _step(model)
        expected = _expected(ema.shadow, model, 0.8)
        ema.update(model)
        assert all(torch.allclose(ema.shadow[k], expected[k], atol=1e-6) for k in expected)
    model.to(memory_format=torch.channels_last)  # new storage for the 4-D weights
    _step(model)
    expected = _expected(ema.shadow, model, 0.8)
    ema.update(model)
    assert all(torch.allclose(ema.shadow[k], expected[k], atol=1e-6) for k in expected)
    other = _net()  # another model with the same keys: paired afresh
    expected = _expected(ema.shadow, other, 0.8)
    ema.update(other)
    assert all(torch.allclose(ema.shadow[k], expected[k], atol=1e-6) for k in expected)


def test_models_with_buffers_take_the_state_dict_path() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    ema = EmaWeights(model, 0.5)
    model[1].num_batches_tracked += 3
    model[1].running_mean += 2.0
    ema.update(model)
    assert int(ema.shadow["1.num_batches_tracked"]) == 3
    assert torch.allclose(ema.shadow["1.running_mean"], torch.ones(2))


def test_load_state_dict_repairs() -> None:
    model = _net()
    ema = EmaWeights(model, 0.5)
    ema.update(model)
    ema.load_state_dict({k: torch.zeros_like(v) for k, v in ema.shadow.items()})
    ema.update(model)
    assert all(torch.allclose(ema.shadow[k], 0.5 * v) for k, v in model.state_dict().items())
