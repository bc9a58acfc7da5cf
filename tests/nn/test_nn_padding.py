"""The model's padding mode: zeros by default (as the authors), replicate or reflect on request."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from uqseg.errors import ConfigError
from uqseg.nn import MODELS, build_model
from uqseg.nn.config import ModelConfig
from uqseg.nn.sizes import make_config

SMALL = dict(in_channels=1, num_classes=2, image_size=16, base_width=8, channel_mult=(1, 2), num_res_blocks=1,
             num_heads=2, group_norm_groups=8)


def _padded_modes(model: nn.Module) -> set[str]:
    return {m.padding_mode for m in model.modules() if isinstance(m, nn.Conv2d) and any(p > 0 for p in m.padding)}


@pytest.mark.parametrize("name", list(MODELS))
def test_every_padded_convolution_takes_the_mode(name: str) -> None:
    assert _padded_modes(build_model(name, ModelConfig(**SMALL))) == {"zeros"}
    assert _padded_modes(build_model(name, ModelConfig(**SMALL, padding_mode="replicate"))) == {"replicate"}


def test_replicate_padding_sees_a_constant_image_as_constant() -> None:
    """With replicate padding a constant input stays constant through the input conv, edge included; with zeros the
    edge pixels differ."""
    torch.manual_seed(0)
    x = torch.full((1, 1, 16, 16), 2.0)
    zeros = build_model("softmax", ModelConfig(**SMALL)).unet.encoder.input_conv
    replicate = build_model("softmax", ModelConfig(**SMALL, padding_mode="replicate")).unet.encoder.input_conv
    replicate.load_state_dict(zeros.state_dict())
    with torch.no_grad():
        out_zero, out_rep = zeros(x), replicate(x)
    assert torch.allclose(out_rep, out_rep[..., 8:9, 8:9].expand_as(out_rep), atol=1e-5)
    assert not torch.allclose(out_zero[..., 0, 0], out_zero[..., 8, 8], atol=1e-3)


def test_unknown_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="padding_mode"):
        make_config({**SMALL, "padding_mode": "circular-ish"})
