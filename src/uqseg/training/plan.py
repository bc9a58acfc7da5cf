"""Training-run planning (docs/method.md §6 "Shared runs"): the minimal set of runs a set of AU+EU combinations needs.

- ``none``, ``swag`` and ``swag_d`` share one ``shared`` run per AU model (it always collects SWAG moments);
- ``dropout`` has its own run, with MC dropout p = 0.2 in the model;
- ``ensemble`` uses the shared run as member 1 and one ``ensemble`` run per member 2..M, each with its own seed;
- ``subensemble`` uses the shared run and one ``subensemble`` run after it, which fits the sub-model masks on the
  shared run's weights (docs/method.md §6 "Sub-ensembles from one network"); ``train.subensemble`` is in its key;
- ``tta`` trained without augmentation (``model.tta.train_augment: none``, the default) uses the softmax runs: its
  network is the softmax network (docs/method.md §5 "TTA"). The ``tta`` settings stay out of every other AU model's
  key.

Each run is identified by ``key``: a short sha256 of its canonical resolved config, so it is trained once and found
again. Execution-only settings (device, strategy, logger, workers) and data-location options stay out of the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from uqseg.errors import ConfigError
from uqseg.layout import RunLayout
from uqseg.training.config import TrainConfig
from uqseg.vocabulary import check_au
from uqseg.vocabulary import check_combination as validate_combination

if TYPE_CHECKING:
    from uqseg.nn.config import ModelConfig

SHARED_EU = frozenset({"none", "swag", "swag_d"})
MC_DROPOUT_P = 0.2
Family = Literal["shared", "dropout", "ensemble", "subensemble"]
FAMILIES = ("shared", "dropout", "ensemble", "subensemble")
# Dataset options that say where data lives, not what it is.
LOCATION_OPTIONS = frozenset({"cache_dir"})
KEY_LENGTH = 16


def canonical(value: Any) -> Any:
    """A JSON-ready, order-independent copy of ``value`` (dict keys sorted, tuples as lists, paths as strings)."""
    if isinstance(value, BaseModel):
        return canonical(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ConfigError(f"config value {value!r} of type {type(value).__name__} is not JSON-serialisable")


def member_seed(seed: int, member: int) -> int:
    """Seed of ensemble member ``member`` (1-based): member 1 keeps ``seed``, others get a sha256-derived seed."""
    if member < 1:
        raise ConfigError(f"ensemble members are numbered from 1, got {member}")
    if member == 1:
        return seed
    digest = hashlib.sha256(f"uqseg-ensemble-member:{seed}:{member}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclass(frozen=True)
class TrainingRun:
    """One model to train: which AU model, on which data, with which seed and configs (docs/method.md §6, §7)."""

    dataset: str
    dataset_options: dict[str, Any]
    au: str
    family: Family
    member: int
    seed: int
    model: ModelConfig
    train: TrainConfig
    _key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_au(self.au)
        if self.family not in FAMILIES:
            raise ConfigError(f"unknown training-run family {self.family!r}; known: {', '.join(FAMILIES)}")
        object.__setattr__(self, "dataset_options", canonical(dict(self.dataset_options)))
        identity = self.to_dict()
        identity["dataset_options"] = {
            k: v for k, v in identity["dataset_options"].items() if k not in LOCATION_OPTIONS
        }
        identity["train"] = self.train.identity()
        if self.family == "subensemble":
            identity["subensemble"] = canonical(self.train.subensemble)
        if self.au != "tta":
            identity["model"] = {k: v for k, v in identity["model"].items() if k != "tta"}
        elif isinstance(identity["model"].get("tta"), dict):  # the test-time set does not change training
            identity["model"]["tta"] = {k: v for k, v in identity["model"]["tta"].items() if k != "augment"}
        blob = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        object.__setattr__(self, "_key", hashlib.sha256(blob.encode()).hexdigest()[:KEY_LENGTH])

    @property
    def key(self) -> str:
        """Short sha256 of the canonical resolved config (execution-only fields excluded)."""
        return self._key

    @property
    def name(self) -> str:
        """A readable label, e.g. ``ssn/ensemble-3``."""
        suffix = f"-{self.member}" if self.family == "ensemble" else ""
        return f"{self.au}/{self.family}{suffix}"

    def to_dict(self) -> dict[str, Any]:
        """The resolved run config as canonical JSON-ready data."""
        return {
            "dataset": self.dataset,
            "dataset_options": self.dataset_options,
            "au": self.au,
            "family": self.family,
            "member": self.member,
            "seed": self.seed,
            "model": canonical(self.model),
            "train": canonical(self.train),
        }

    def __hash__(self) -> int:
        return hash(self._key)


def _with_dropout(model: ModelConfig, p: float) -> ModelConfig:
    if "dropout" not in type(model).model_fields:
        raise ConfigError(f"model config {type(model).__name__} has no 'dropout' field")
    return model.model_copy(update={"dropout": p})


def training_au(au: str, model: Any) -> str:
    """The AU model whose training runs ``au`` uses: ``softmax`` for TTA without training augmentation (docs/method.md
    §5 "TTA"), else ``au`` itself."""
    tta = getattr(model, "tta", None)
    if au == "tta" and (tta is None or tta.train_augment == "none"):
        return "softmax"
    return au


def runs_for_combination(
    au: str,
    eu: str,
    *,
    dataset: str,
    dataset_options: Mapping[str, Any],
    seed: int,
    model: ModelConfig,
    train: TrainConfig,
    ensemble_size: int = 5,
) -> list[TrainingRun]:
    """The training runs combination ``au+eu`` needs (docs/method.md §6 "Shared runs"), member 1 first."""
    validate_combination(au, eu)
    if ensemble_size < 1:
        raise ConfigError(f"ensemble_size must be at least 1, got {ensemble_size}")
    train = train.model_copy(update={"seed": seed})
    trained = training_au(au, model)

    def make(family: Family, member: int, dropout: float) -> TrainingRun:
        run_seed = member_seed(seed, member)
        return TrainingRun(
            dataset=dataset,
            dataset_options=dict(dataset_options),
            au=trained,
            family=family,
            member=member,
            seed=run_seed,
            model=_with_dropout(model, dropout),
            train=train.model_copy(update={"seed": run_seed}),
        )

    if eu == "dropout":
        return [make("dropout", 1, MC_DROPOUT_P)]
    shared = make("shared", 1, 0.0)
    if eu in SHARED_EU:
        return [shared]
    if eu == "subensemble":
        return [shared, make("subensemble", 1, 0.0)]
    return [shared] + [make("ensemble", m, 0.0) for m in range(2, ensemble_size + 1)]


def base_run(run: TrainingRun) -> TrainingRun | None:
    """The run whose trained weights ``run`` starts from: the shared run for a sub-ensemble run, else None."""
    return replace(run, family="shared") if run.family == "subensemble" else None


def plan_training_runs(combos: Iterable[tuple[str, str]], **options: Any) -> list[TrainingRun]:
    """All runs the combinations need, deduplicated by key, in first-seen order; options as runs_for_combination."""
    runs: dict[str, TrainingRun] = {}
    for au, eu in combos:
        for run in runs_for_combination(au, eu, **options):
            runs.setdefault(run.key, run)
    return list(runs.values())


def run_directory(root: Path, run: TrainingRun) -> Path:
    """Where ``run`` lives under a run directory: ``root/training/<key>`` (docs/conventions.md)."""
    return RunLayout(root).training(run.key)
