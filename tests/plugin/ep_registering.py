"""A plugin module that registers its model when imported (as an entry point naming a module, or in ``plugins``)."""

from __future__ import annotations

from ep_models import Flat

from uqseg.nn import register_model

register_model("selfreg", Flat, label="Self-registered")
