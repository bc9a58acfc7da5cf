"""Per-dataset study seeds (``datasets.<name>.seeds`` over the top-level ``seeds``; docs/method.md §7) and the paper
preset's choice: Chákṣu with 5 seeds, LIDC once, as in the paper's Table 2."""

from __future__ import annotations

import pytest

from uqseg.errors import ConfigError
from uqseg.experiments.config import BenchmarkConfig
from uqseg.experiments.presets import resolve_config


def tiny(**kwargs: object) -> BenchmarkConfig:
    """The tiny preset on both synthetic datasets."""
    return resolve_config("tiny", datasets=["synthetic-lidc,synthetic-chaksu"], **kwargs)


def test_dataset_seeds_override_the_top_level_list() -> None:
    cfg = tiny(overrides=["seeds=[3]", "datasets.synthetic-chaksu.seeds=[0, 1, 2, 3, 4]"])
    assert cfg.dataset_seeds("synthetic-lidc") == [3]
    assert cfg.dataset_seeds("synthetic-chaksu") == [0, 1, 2, 3, 4]


def test_seeds_flag_replaces_dataset_seeds() -> None:
    cfg = tiny(overrides=["datasets.synthetic-chaksu.seeds=[5, 6]"], seeds=2)
    assert cfg.dataset_seeds("synthetic-lidc") == cfg.dataset_seeds("synthetic-chaksu") == [0, 1]


@pytest.mark.parametrize("value", ["[]", "[1, 1]", "[-2]"])
def test_bad_dataset_seeds_name_the_key(value: str) -> None:
    with pytest.raises(ConfigError, match=r"datasets\.synthetic-chaksu\.seeds"):
        tiny(overrides=[f"datasets.synthetic-chaksu.seeds={value}"])


def test_paper_preset_runs_chaksu_five_times_and_lidc_once() -> None:
    cfg = resolve_config("paper")
    assert cfg.dataset_seeds("chaksu") == [0, 1, 2, 3, 4]
    assert cfg.dataset_seeds("lidc") == [0]
