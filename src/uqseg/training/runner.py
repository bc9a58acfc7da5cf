"""Train every run one AU+EU combination needs into ``RUN_DIR/training/<run-key>/`` (docs/method.md §6)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from uqseg.data.contract import Dataset
from uqseg.errors import ConfigError
from uqseg.training.checkpoint import ModelFactory
from uqseg.training.config import TrainConfig
from uqseg.training.plan import TrainingRun, run_directory, runs_for_combination

OVERRIDE_SECTIONS = ("train", "model", "data")


def parse_combination(combo: str) -> tuple[str, str]:
    """Split ``AU+EU`` into its two names."""
    au, sep, eu = combo.partition("+")
    if not sep or not au or not eu:
        raise ConfigError(f"a combination is written AU+EU, e.g. ssn+swag; got {combo!r}")
    return au, eu


def _scalar(raw: str) -> Any:
    """JSON first (so 3e-4 is a number), then YAML (bare words, booleans, lists)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return yaml.safe_load(raw) if raw.strip() else ""


def parse_overrides(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Parse ``section.key=value`` overrides (sections train, model, data); values are YAML scalars."""
    parsed: dict[str, dict[str, Any]] = {section: {} for section in OVERRIDE_SECTIONS}
    for item in items:
        name, sep, raw = item.partition("=")
        section, dot, key = name.strip().partition(".")
        if not sep or not dot or not key or section not in OVERRIDE_SECTIONS:
            raise ConfigError(f"override {item!r} must look like SECTION.KEY=VALUE with SECTION in {OVERRIDE_SECTIONS}")
        try:
            parsed[section][key] = _scalar(raw)
        except yaml.YAMLError as err:
            raise ConfigError(f"cannot parse the value of override {item!r}: {err}") from None
    return parsed


def make_model_config(values: Mapping[str, Any]) -> Any:
    """Build ``uqseg.nn.config.ModelConfig`` from overrides; invalid fields are a ConfigError."""
    from uqseg.nn.sizes import make_config

    return make_config(values)


def train_combination(
    au: str,
    eu: str,
    *,
    dataset: str,
    dataset_options: Mapping[str, Any],
    model: Any,
    train: TrainConfig,
    root: Path,
    seed: int = 0,
    ensemble_size: int = 5,
    progress: bool = True,
    model_factory: ModelFactory | None = None,
    data: Dataset | None = None,
) -> list[tuple[TrainingRun, Path]]:
    """Plan the runs of ``au+eu`` and train each one not yet complete; return (run, its directory) pairs.

    ``data`` is the already-built dataset, if the caller has it; otherwise it is built from the registry.
    """
    from uqseg.data import get_dataset
    from uqseg.training.train import train_run

    runs = runs_for_combination(
        au,
        eu,
        dataset=dataset,
        dataset_options=dataset_options,
        seed=seed,
        model=model,
        train=train,
        ensemble_size=ensemble_size,
    )
    if data is None:
        data = get_dataset(dataset, **dict(dataset_options))
    done = []
    for run in runs:
        out = train_run(run, data, run_directory(root, run), progress=progress, model_factory=model_factory)
        done.append((run, out))
    return done
