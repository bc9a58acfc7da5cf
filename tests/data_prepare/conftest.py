"""Shared fixtures of the preparation tests: the miniature Chákṣu tree is built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
from chaksu_fixture import build_chaksu_tree


@pytest.fixture(scope="session")
def chaksu_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The raw miniature Chákṣu tree (read-only by convention: copy it before changing anything)."""
    return build_chaksu_tree(tmp_path_factory.mktemp("chaksu-raw") / "CHAKSU")
