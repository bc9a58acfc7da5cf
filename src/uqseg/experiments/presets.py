"""Presets and command-line overrides: ``--preset quick|paper|tiny|FILE`` and ``--set a.b.c=VALUE``.

Presets are YAML files shipped in ``uqseg/presets/``; a path to a YAML file works the same. ``--set`` takes a dotted
key and a value parsed as JSON, else as a YAML scalar (``5``, ``3e-4``, ``true``, ``[a, b]``). The explicit flags
(``--datasets``, ``--combos``, ``--seeds``, ``--executor``, ``--ray-address``) are applied last; ``--seeds N`` also
replaces every dataset's own ``seeds``. The result is validated at once: an unknown key, a wrong type, an unknown
combination or dataset is a ConfigError naming it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from uqseg.errors import ConfigError
from uqseg.experiments.config import BenchmarkConfig, validate_config

PRESETS = ("quick", "standard", "paper", "tiny")
DEFAULT_PRESET = "quick"


def preset_path(name: str) -> Path:
    """The YAML file of a shipped preset."""
    return Path(str(resources.files("uqseg") / "presets" / f"{name}.yaml"))


def load_preset(preset: str | Path) -> tuple[str, dict[str, Any]]:
    """The preset's name and raw mapping: a shipped preset by name, or a YAML file by path."""
    text = str(preset)
    path = preset_path(text) if text in PRESETS else Path(text)
    if not path.is_file():
        raise ConfigError(f"unknown preset {text!r}: give one of {', '.join(PRESETS)} or a YAML file path")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read preset {path}: {' '.join(str(err).split())}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"preset {path} must be a YAML mapping of sections")
    raw.setdefault("name", text if text in PRESETS else path.stem)
    return str(raw["name"]), raw


def parse_value(raw: str) -> Any:
    """An override value: JSON first (so ``3e-4`` is a number), then a YAML scalar or list."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        pass
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError(f"cannot parse override value {raw!r}: {err}") from None


def apply_overrides(raw: Mapping[str, Any], items: Iterable[str]) -> dict[str, Any]:
    """A copy of ``raw`` with every ``dotted.key=value`` override set (intermediate mappings are created)."""
    out = copy.deepcopy(dict(raw))
    for item in items:
        name, sep, value = item.partition("=")
        keys = name.strip().split(".")
        if not sep or not all(keys):
            raise ConfigError(f"override {item!r} must look like KEY.SUBKEY=VALUE, e.g. train.epochs=5")
        node = out
        for depth, key in enumerate(keys[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise ConfigError(f"override {item!r}: {where} is a value, not a section")
            node = child
        node[keys[-1]] = parse_value(value)
    return out


def select_datasets(raw: dict[str, Any], names: Iterable[str]) -> None:
    """Keep only the datasets ``names``; one the preset lacks gets default settings (any registered dataset).
    ``folder:DATA`` is the prepared folder dataset at DATA, under the name its manifest records (docs/datasets.md)."""
    from uqseg.data.prepare.folder_names import PREFIX, resolve_reference

    known = raw.get("datasets") or {}
    if not isinstance(known, dict):
        raise ConfigError("datasets must be a mapping of dataset name to settings")
    chosen = {}
    for item in names:
        name, root = resolve_reference(item) if item.startswith(PREFIX) else (item, None)
        chosen[name] = dict(known.get(name) or {}, **({"root": root} if root else {}))
    raw["datasets"] = chosen


def check_datasets_registered(cfg: BenchmarkConfig) -> None:
    """Every dataset of ``cfg`` is registered, else a ConfigError naming it."""
    from uqseg.data import available_datasets
    from uqseg.data.prepare.folder_names import check_reference

    registered = available_datasets()
    for name, entry in cfg.datasets.items():
        if name not in registered and entry.root is not None:
            check_reference(name, entry.root)
        elif name not in registered:
            raise ConfigError(f"datasets.{name}: unknown dataset; registered: {', '.join(registered)}")


def resolve_config(
    preset: str | Path = DEFAULT_PRESET,
    *,
    overrides: Iterable[str] = (),
    datasets: Iterable[str] | None = None,
    combos: Iterable[str] | None = None,
    seeds: int | None = None,
    executor: str | None = None,
    ray_address: str | None = None,
) -> BenchmarkConfig:
    """The validated config: preset, then ``--set`` overrides, then the explicit flags."""
    name, raw = load_preset(preset)
    raw = apply_overrides(raw, overrides)
    if datasets is not None:
        select_datasets(raw, [d.strip() for item in datasets for d in item.split(",") if d.strip()])
    if combos is not None:
        raw["combos"] = [c.strip() for item in combos for c in item.split(",") if c.strip()]
    if seeds is not None:
        if seeds < 1:
            raise ConfigError(f"--seeds must be at least 1, got {seeds}")
        raw["seeds"] = list(range(seeds))
        for entry in (raw.get("datasets") or {}).values():  # the flag also replaces per-dataset seeds
            if isinstance(entry, dict):
                entry.pop("seeds", None)
    execution = raw.setdefault("execution", {})
    if not isinstance(execution, dict):
        raise ConfigError("execution must be a mapping")
    if executor is not None:
        execution["executor"] = executor
    if ray_address is not None:
        execution["ray_address"] = ray_address
    cfg = validate_config(raw, source=f"preset {name!r}")
    check_datasets_registered(cfg)
    return cfg
