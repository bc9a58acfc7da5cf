"""Validated options of the synthetic generators and the per-split random streams."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from uqseg.data.shifts import check_severity
from uqseg.errors import ConfigError

MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 1024
MAX_AMBIGUITY = 1.5


@dataclass(frozen=True)
class SyntheticOptions:
    """The options every synthetic dataset takes (the experiment runner passes exactly these keywords).

    ``shift_severity`` maps each OOD shift of the dataset to its severity (docs/datasets.md); the dataset's factory
    fills in its defaults and checks the names with :func:`resolve_shift_severity`.
    """

    image_size: int
    n_train: int
    n_val: int
    n_test: int
    seed: int
    ambiguity: float
    shift_severity: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_int("image_size", self.image_size, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE,
                   f"the lesion and disc crops need at least {MIN_IMAGE_SIZE}×{MIN_IMAGE_SIZE} pixels")
        for name in ("n_train", "n_val", "n_test"):
            _check_int(name, getattr(self, name), 1, None, "every split needs at least one image")
        _check_int("seed", self.seed, 0, None, "seeds are non-negative integers")
        if isinstance(self.ambiguity, bool) or not isinstance(self.ambiguity, (int, float)):
            raise ConfigError(f"ambiguity must be a number in [0, {MAX_AMBIGUITY}], got {self.ambiguity!r}")
        if not 0.0 <= float(self.ambiguity) <= MAX_AMBIGUITY:
            raise ConfigError(f"ambiguity must lie in [0, {MAX_AMBIGUITY}] (0 = unambiguous), got {self.ambiguity!r}")
        for name, value in self.shift_severity.items():
            check_severity(f"shift_severity.{name}", value)

    def as_dict(self) -> dict[str, Any]:
        """The options as JSON-ready data (the cache key and each split's ``meta``)."""
        severity = {name: float(self.shift_severity[name]) for name in sorted(self.shift_severity)}
        return {**asdict(self), "ambiguity": float(self.ambiguity), "shift_severity": severity}


def resolve_shift_severity(dataset: str, given: object, defaults: Mapping[str, float]) -> dict[str, float]:
    """``defaults`` updated with ``given`` (a mapping shift → severity or None); ConfigError on unknown shifts."""
    if given is None:
        given = {}
    if not isinstance(given, Mapping):
        raise ConfigError(f"{dataset}: shift_severity must be a mapping of shift name to severity, got {given!r}")
    unknown = sorted(str(name) for name in set(given) - set(defaults))
    if unknown:
        raise ConfigError(f"{dataset}: shift_severity has unknown shifts {unknown}; known: {', '.join(defaults)}")
    merged = {**defaults, **given}
    return {name: check_severity(f"{dataset}: shift_severity.{name}", merged[name]) for name in defaults}


def _check_int(name: str, value: object, low: int, high: int | None, why: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"≥ {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"{name} must be {bound} ({why}), got {value}")


def split_rngs(seed: int, dataset_tag: int, split_index: int) -> tuple[np.random.Generator, ...]:
    """Independent generators (scene parameters, rendering, annotators) for one split of one dataset."""
    children = np.random.SeedSequence([seed, dataset_tag, split_index]).spawn(3)
    return tuple(np.random.default_rng(child) for child in children)
