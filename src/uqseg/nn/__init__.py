"""The shared attention UNet and the four AU models (docs/method.md §4–§6); ``register_model`` adds one of your own
(docs/custom_model.md)."""

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
from uqseg.vocabulary import au_entry_point, check_au, register_au_model

MODELS: dict[str, Callable[[ModelConfig], AleatoricModel]] = {
    "softmax": SoftmaxModel,
    "ssn": SSNModel,
    "prob_unet": ProbUNetModel,
    "diffusion": DiffusionModel,
    "tta": TTAModel,
}


def register_model(name: str, factory: Callable[[ModelConfig], AleatoricModel], *, label: str | None = None) -> str:
    """Register AU model ``name``, built by ``factory(config)`` for each training run and inference (docs/
    custom_model.md): the name becomes valid for every EU method, in ``combos``, presets, the results table and the
    report (as ``label``, default the factory's ``label`` attribute, else the name). Returns ``name``."""
    if not callable(factory):
        raise ConfigError(f"AU model {name!r}: the factory {factory!r} is not callable")
    register_au_model(name, label or getattr(factory, "label", None))
    MODELS[name] = factory
    return name


def model_factory(name: str) -> Callable[[ModelConfig], AleatoricModel]:
    """The factory of AU model ``name``: built in, registered, or the callable a ``uqseg.models`` entry point of that
    name points to (loaded now; an entry point naming a module registers its models when imported)."""
    if name not in MODELS:
        check_au(name)  # imports UQSEG_PLUGINS and loads the entry point, or says which names are known
        loaded = au_entry_point(name)
        if name not in MODELS and callable(loaded):
            register_model(name, loaded)
    if name not in MODELS:
        raise ConfigError(f"AU model {name!r} is known by name but has no model: register it with "
                          "uqseg.nn.register_model (docs/custom_model.md)")
    return MODELS[name]


def build_model(name: str, config: ModelConfig) -> AleatoricModel:
    """The AU model ``name`` (softmax, ssn, prob_unet, diffusion, tta, or a registered one) on its config
    (docs/method.md §4, §5; docs/custom_model.md)."""
    model = model_factory(name)(config)
    if not isinstance(model, AleatoricModel):
        raise ConfigError(f"AU model {name!r}: its factory returned a {type(model).__name__}, not an AleatoricModel")
    if config.padding_mode != "zeros":
        set_padding_mode(model, config.padding_mode)
    return model


def set_padding_mode(model: nn.Module, mode: str) -> None:
    """Make every padded convolution of ``model`` pad with ``mode`` instead of zeros (docs/method.md §4)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and any(p > 0 for p in module.padding):
            module.padding_mode = mode


__all__ = ["MODELS", "AleatoricModel", "ModelConfig", "build_model", "fixed_dropout", "model_factory",
           "register_model", "sample_instances", "set_padding_mode"]
