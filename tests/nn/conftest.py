"""Fixtures for the nn tests: one tiny net per AU model."""

from __future__ import annotations

import pytest
import torch
from nn_helpers import AU_MODELS, tiny_config

from uqseg.nn import build_model


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny nets gain nothing from intra-op threads; on shared cores extra threads only contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(params=AU_MODELS)
def au_name(request) -> str:
    return request.param


@pytest.fixture
def tiny_model(au_name):
    torch.manual_seed(0)
    return build_model(au_name, tiny_config())
