"""Stacked instances: each stacked layer and each AU model against its instances run one by one."""

from __future__ import annotations

import pytest
import torch
from epistemic_doubles import ScaledNet
from torch import nn

from uqseg.epistemic.stacked import StackingUnsupported, stack_instances
from uqseg.nn import build_model
from uqseg.nn.base import sample_tiled
from uqseg.nn.config import ModelConfig


def _copies(module: nn.Module, count: int) -> list[dict[str, torch.Tensor]]:
    """``count`` weight sets for ``module``: its own weights plus a distinct random offset each."""
    sets = []
    for g in range(count):
        gen = torch.Generator().manual_seed(100 + g)
        sets.append({k: p.detach() + 0.3 * torch.randn(p.shape, generator=gen) for k, p in module.named_parameters()})
    return sets


def _load(module: nn.Module, weights: dict[str, torch.Tensor]) -> nn.Module:
    with torch.no_grad():
        for k, p in module.named_parameters():
            p.copy_(weights[k])
    return module


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (nn.Conv2d(4, 6, 3, padding=1), (5, 4, 7, 9)),
        (nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), (5, 4, 8, 6)),
        (nn.Conv2d(4, 6, 1, groups=2), (5, 4, 3, 5)),
        (nn.Conv2d(4, 6, 3, padding=1, padding_mode="replicate"), (5, 4, 7, 9)),
        (nn.Conv2d(4, 6, 3, stride=2, padding=1, padding_mode="reflect"), (5, 4, 8, 6)),
        (nn.Conv1d(4, 12, 1), (5, 4, 11)),
        (nn.Linear(4, 3), (5, 2, 4)),
        (nn.GroupNorm(2, 4), (5, 4, 3, 6)),
        (nn.GroupNorm(2, 4, affine=False), (5, 4, 3, 6)),
    ],
)
def test_stacked_layer_equals_each_instance(layer: nn.Module, shape: tuple[int, ...]) -> None:
    groups = 3
    sets = _copies(layer, groups)
    stacked = stack_instances(nn.Sequential(layer), [{f"0.{k}": v for k, v in w.items()} for w in sets])
    x = torch.randn(groups * shape[0], *shape[1:])
    with torch.no_grad():
        out = stacked(x)
        for g in range(groups):
            block = slice(g * shape[0], (g + 1) * shape[0])
            torch.testing.assert_close(out[block], _load(layer, sets[g])(x[block]), atol=1e-5, rtol=1e-5)


def _config(**overrides: object) -> ModelConfig:
    values = dict(in_channels=3, num_classes=2, image_size=16, base_width=8, channel_mult=(1, 2), num_res_blocks=1,
                  num_heads=2, dropout=0.1)
    return ModelConfig(**{**values, **overrides})


@pytest.mark.parametrize("au", ["softmax", "ssn", "prob_unet", "diffusion"])
def test_stacked_model_equals_instances_on_the_tiled_batch(au: str) -> None:
    """Non-square, non-symmetric images: block g of the stacked sampler equals instance g alone on the tiled batch
    from the same seed, for every AU model (its sampler keeps the instance-major row order)."""
    torch.manual_seed(0)
    model = build_model(au, _config()).eval()
    sets = _copies(model, 3)
    stacked = stack_instances(model, sets)
    images = torch.linspace(-1, 1, 2 * 3 * 16 * 24).reshape(2, 3, 16, 24) ** 3
    b, n = images.shape[0], 4
    with torch.no_grad():
        torch.manual_seed(7)
        out = sample_tiled(stacked, images, n, 3)
        assert out.shape == (3, n, b, 2, 16, 24)
        tiled = images.repeat(3, 1, 1, 1)
        for g, weights in enumerate(sets):
            instance = _load(build_model(au, _config()).eval(), weights)
            torch.manual_seed(7)
            alone = instance.sample(tiled, n)[:, g * b : (g + 1) * b]
            torch.testing.assert_close(out[g], alone, atol=2e-4, rtol=1e-4)
        assert (out[0] - out[1]).abs().max() > 1e-3


def test_stacking_refuses_layers_without_a_stacked_version_and_bad_batches() -> None:
    model = ScaledNet()
    with pytest.raises(StackingUnsupported, match="'scale'"):
        stack_instances(model, _copies(model, 2))
    conv = nn.Sequential(nn.Conv2d(1, 2, 3))
    stacked = stack_instances(conv, [{k: v.detach() for k, v in conv.named_parameters()}] * 3)
    with pytest.raises(ValueError, match="5 rows does not split into 3"):
        stacked(torch.randn(5, 1, 4, 4))
    with pytest.raises(ValueError, match="at least one weight set"):
        stack_instances(conv, [])
