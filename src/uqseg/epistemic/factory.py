"""Build an EU method by name (docs/method.md §6; names as in docs/conventions.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from uqseg.epistemic.base import EpistemicMethod
from uqseg.epistemic.dropout import MCDropout
from uqseg.epistemic.ensemble import Ensemble
from uqseg.epistemic.none import NoEpistemic
from uqseg.epistemic.swag import SwagMethod
from uqseg.errors import ConfigError
from uqseg.nn.base import AleatoricModel
from uqseg.vocabulary import check_eu


def build_method(
    eu: str,
    models: Sequence[AleatoricModel],
    *,
    swag_state: Any = None,
    instances: int = 10,
    swag_scale: float = 1.0,
    seed: int = 0,
    batched: bool = True,
) -> EpistemicMethod:
    """The EU method ``eu`` over trained ``models`` (one model, or the ensemble's members in order).

    ``instances`` is M for dropout and SWAG/SWAG-D; an ensemble has one instance per member. ``swag_state`` (a
    ``SwagState``) is required for swag and swag_d. ``seed`` seeds the dropout masks and SWAG draws.
    """
    check_eu(eu)
    if not models:
        raise ConfigError(f"EU method {eu!r} needs at least one trained model")
    if eu == "ensemble":
        return Ensemble(models, batched=batched)
    if len(models) != 1:
        raise ConfigError(f"EU method {eu!r} takes one trained model, got {len(models)}")
    if eu == "none":
        return NoEpistemic(models[0])
    if eu == "dropout":
        return MCDropout(models[0], num_instances=instances, seed=seed, batched=batched)
    if eu == "subensemble":
        raise ConfigError("the sub-ensemble is loaded from its fitted masks: "
                          "uqseg.training.subensemble_fit.load_subensemble_method")
    if swag_state is None:
        raise ConfigError(f"EU method {eu!r} needs the SWAG state of its shared training run")
    return SwagMethod(models[0], swag_state, diagonal=eu == "swag_d", num_instances=instances, scale=swag_scale,
                      seed=seed, batched=batched)
