"""Training tests: provide uqseg.epistemic.swag with a stand-in SwagState until the real module exists."""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest
from training_doubles import FakeSwagState


@pytest.fixture(autouse=True)
def swag_state_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """Provide uqseg.epistemic.swag with the stand-in SwagState until part B's module exists."""
    if importlib.util.find_spec("uqseg.epistemic.swag") is not None:
        return
    module = types.ModuleType("uqseg.epistemic.swag")
    module.SwagState = FakeSwagState
    monkeypatch.setitem(sys.modules, "uqseg.epistemic.swag", module)
