"""The shared attention UNet and the four AU models (docs/method.md §4–§6)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from uqseg.errors import ConfigError
from uqseg.nn.base import AleatoricModel
from uqseg.nn.config import ModelConfig
from uqseg.nn.diffusion import DiffusionModel
from uqseg.nn.dropout import fixed_dropout, sample_instances
from uqseg.nn.prob_unet import ProbUNetModel
from uqseg.nn.softmax import SoftmaxModel
from uqseg.nn.ssn import SSNModel
from uqseg.nn.tta import TTAModel

MODELS: dict[str, Callable[[ModelConfig], AleatoricModel]] = {
    "softmax": SoftmaxModel,
    "ssn": SSNModel,
    "prob_unet": ProbUNetModel,
    "diffusion": DiffusionModel,
    "tta": TTAModel,
}


def build_model(name: str, config: ModelConfig) -> AleatoricModel:
    """The AU model ``name`` (softmax, ssn, prob_unet, diffusion, tta) on the shared backbone (docs/method.md §4,
    §5)."""
    if name not in MODELS:
        raise ConfigError(f"unknown AU model {name!r}; options: {', '.join(MODELS)}")
    model = MODELS[name](config)
    if config.padding_mode != "zeros":
        set_padding_mode(model, config.padding_mode)
    return model


def set_padding_mode(model: nn.Module, mode: str) -> None:
    """Make every padded convolution of ``model`` pad with ``mode`` instead of zeros (docs/method.md §4)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and any(p > 0 for p in module.padding):
            module.padding_mode = mode


__all__ = ["MODELS", "AleatoricModel", "ModelConfig", "build_model", "fixed_dropout", "sample_instances",
           "set_padding_mode"]
