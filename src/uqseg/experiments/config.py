"""The benchmark configuration: datasets, combinations, seeds, model, training, inference, evaluation.

Every level forbids unknown keys. Per-dataset overrides (epochs: docs/method.md §7; Prob. UNet β: §5) are partial
``train``/``model`` mappings on a dataset, and per AU model below it (``datasets.<name>.au.<au>``); they are
merged over the global sections in that order and validated when the config is loaded, before any work starts.
The seeds replace ``train.seed`` and ``inference.seed``: study seed ``s`` trains and infers with seed ``s``. A
dataset's own ``seeds`` replace the top-level list for that dataset (the paper repeats Chákṣu 5 times and runs LIDC
once; docs/method.md §7).
The model's geometry (``in_channels``, ``num_classes``, ``image_size``) comes from each dataset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from uqseg.errors import ConfigError
from uqseg.experiments.paths import check_relative
from uqseg.experiments.sweep_config import SweepConfig
from uqseg.inference.config import InferenceConfig
from uqseg.metrics.analyses import STUDY_ANALYSES
from uqseg.nn.config import ModelConfig
from uqseg.training.config import TrainConfig
from uqseg.vocabulary import PLUGINS_ENV, combo_names, import_plugins, known_au_models, parse_combination, resolve_au

VALID_COMBOS = combo_names()
GEOMETRY_FIELDS = ("in_channels", "num_classes", "image_size")
LOCATION_KEYS = ("root", "cache_dir")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AUOverride(_Strict):
    """Partial ``train`` and ``model`` settings for one AU model on one dataset (e.g. Prob. UNet epochs, β)."""

    train: dict[str, Any] = {}
    model: dict[str, Any] = {}


def check_seeds(value: list[int]) -> list[int]:
    """``value`` if its seeds are distinct and non-negative, else a ValueError saying so."""
    if any(s < 0 for s in value) or len(set(value)) != len(value):
        raise ValueError("seeds must be distinct non-negative integers")
    return value


class DatasetEntry(_Strict):
    """One dataset of the study.

    - ``options``: keyword options of its registered factory (generator sizes, seed, image size).
    - ``root``: input folder of a prepared real dataset; may be absolute (it is only read).
    - ``cache_dir``: output folder for generated data, relative to the run directory (default ``data/<name>``).
    - ``train``, ``model``: partial overrides of the global sections; ``au``: the same per AU model.
    - ``seeds``: the study seeds of this dataset, replacing the top-level ``seeds`` (None: use those).
    """

    options: dict[str, Any] = {}
    root: str | None = None
    cache_dir: str | None = None
    train: dict[str, Any] = {}
    model: dict[str, Any] = {}
    au: dict[str, AUOverride] = {}
    seeds: list[int] | None = Field(None, min_length=1)

    @field_validator("seeds")
    @classmethod
    def _valid_seeds(cls, value: list[int] | None) -> list[int] | None:
        return value if value is None else check_seeds(value)

    @field_validator("options")
    @classmethod
    def _no_locations(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in LOCATION_KEYS:
            if key in value:
                raise ValueError(f"'{key}' is set on the dataset entry itself, not in its options")
        return value

    @field_validator("cache_dir")
    @classmethod
    def _relative_cache(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_relative(value, what="cache_dir")
            except ConfigError as err:
                raise ValueError(str(err)) from None
        return value

    @field_validator("au")
    @classmethod
    def _known_au(cls, value: dict[str, AUOverride]) -> dict[str, AUOverride]:
        unknown = sorted(au for au in value if not resolve_au(au))
        if unknown:
            raise ValueError(f"unknown AU models {unknown}; known: {', '.join(known_au_models())}")
        return value


class EvaluationConfig(_Strict):
    """Options of the metrics step (docs/method.md §3)."""

    batch_size: int = Field(64, ge=1, description="Images read per chunk from a predictions file.")


class ExecutionConfig(_Strict):
    """Where the steps run; none of this changes any result or step key."""

    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = Field(None, description="Ray cluster address; None starts a local Ray instance.")
    ray_num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray instance.")
    torch_threads: int | None = Field(None, ge=1, description="torch threads per step; None keeps the default.")
    workers: int = Field(1, ge=1, description="local executor: steps run at once, each in its own process.")


class BenchmarkConfig(_Strict):
    """A whole study: validated from a preset plus command-line overrides."""

    name: str = "custom"
    description: str = ""
    plugins: list[str] = Field(default_factory=list, description="Modules that register AU models of your own "
                               "(docs/custom_model.md), imported here and by every step process.")
    datasets: dict[str, DatasetEntry] = Field(min_length=1)
    combos: list[str] = Field(default_factory=lambda: list(combo_names()))
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    model: ModelConfig = ModelConfig()
    train: TrainConfig
    inference: InferenceConfig = InferenceConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    report: bool = True
    analyses: list[str] = Field(default_factory=list, description="Open-question analyses added to every "
                                "combination (docs/method.md \"Open questions\"): eu_rescaling, au_eu_rank.")
    execution: ExecutionConfig = ExecutionConfig()
    sweeps: SweepConfig = Field(SweepConfig(), description="Open-question sweeps switched on by sweeps.run "
                                "(docs/method.md \"Open questions\").")

    @field_validator("plugins")
    @classmethod
    def _import_plugins(cls, value: list[str]) -> list[str]:
        """Import the plugin modules (before ``datasets`` and ``combos`` are checked) and name them in
        ``UQSEG_PLUGINS``, which the step processes inherit (docs/custom_model.md)."""
        try:
            import_plugins(value)
        except ConfigError as err:
            raise ValueError(str(err)) from None
        listed = [m for m in os.environ.get(PLUGINS_ENV, "").split(",") if m]
        os.environ[PLUGINS_ENV] = ",".join([*listed, *(m for m in value if m not in listed)])
        return value

    @field_validator("combos", mode="before")
    @classmethod
    def _expand_all(cls, value: Any) -> Any:
        if value in ("all", ["all"]):
            return list(combo_names())
        if value in ("paper", ["paper"]):
            return list(combo_names("paper"))
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("combos")
    @classmethod
    def _valid_combos(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("no combination selected")
        for combo in value:
            try:
                parse_combination(combo)
            except ConfigError as err:
                raise ValueError(str(err)) from None
        if len(set(value)) != len(value):
            raise ValueError("a combination is listed twice")
        return value

    @field_validator("seeds")
    @classmethod
    def _valid_seeds(cls, value: list[int]) -> list[int]:
        return check_seeds(value)

    @field_validator("analyses", mode="before")
    @classmethod
    def _split_analyses(cls, value: Any) -> Any:
        """``--set analyses=eu_rescaling,au_eu_rank`` as a list; none for an empty value."""
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("analyses")
    @classmethod
    def _known_analyses(cls, value: list[str]) -> list[str]:
        unknown = [a for a in value if a not in STUDY_ANALYSES]
        if unknown:
            raise ValueError(f"unknown analyses {unknown}; known: {', '.join(STUDY_ANALYSES)}")
        if len(set(value)) != len(value):
            raise ValueError("an analysis is listed twice")
        return value

    @model_validator(mode="after")
    def _check_overrides(self) -> BenchmarkConfig:
        for name in self.datasets:
            for au in sorted({c.partition("+")[0] for c in self.combos}):
                train_config(self, name, au)
                model_config(self, name, au)
        return self

    def dataset_seeds(self, dataset: str) -> list[int]:
        """The study seeds of ``dataset``: its own ``seeds`` if set, else the top-level ``seeds``."""
        own = self.datasets[dataset].seeds
        return list(self.seeds if own is None else own)

    def combinations(self) -> list[tuple[str, str]]:
        """The selected combinations as (au, eu) pairs, in config order."""
        return [tuple(c.split("+", 1)) for c in self.combos]  # type: ignore[misc]


def _check_keys(partial: Mapping[str, Any], model: type[BaseModel], where: str) -> None:
    """Refuse keys of a partial override that ``model`` does not have, naming the full key."""
    for key, value in partial.items():
        field = model.model_fields.get(key)
        if field is None:
            raise ConfigError(f"{where}.{key}: unknown key; {model.__name__} has {', '.join(model.model_fields)}")
        sub = field.annotation
        if get_origin(sub) is not None:
            sub = next((a for a in get_args(sub) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if isinstance(sub, type) and issubclass(sub, BaseModel) and isinstance(value, Mapping):
            _check_keys(value, sub, f"{where}.{key}")


def _merge(base: dict[str, Any], *layers: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of mappings, later layers winning."""
    out = dict(base)
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
                out[key] = _merge(dict(out[key]), value)
            else:
                out[key] = value
    return out


def _layers(cfg: BenchmarkConfig, dataset: str, au: str, section: str) -> list[tuple[str, Mapping[str, Any]]]:
    entry = cfg.datasets[dataset]
    layers = [(f"datasets.{dataset}.{section}", getattr(entry, section))]
    if au in entry.au:
        layers.append((f"datasets.{dataset}.au.{au}.{section}", getattr(entry.au[au], section)))
    return layers


def _build(model: type[BaseModel], base: BaseModel, layers: list[tuple[str, Mapping[str, Any]]], section: str,
           fixed: Mapping[str, Any]) -> Any:
    for where, partial in layers:
        _check_keys(partial, model, where)
    values = _merge(base.model_dump(), *(partial for _, partial in layers), fixed)
    try:
        return model(**values)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"])
            first = str(e["loc"][0]) if e["loc"] else ""
            where = next((w for w, p in reversed(layers) if first in p), section)
            problems.append(f"{where}.{loc}: {e['msg']}" if loc else f"{where}: {e['msg']}")
        raise ConfigError("; ".join(problems)) from None


def train_config(cfg: BenchmarkConfig, dataset: str, au: str, seed: int | None = None) -> TrainConfig:
    """The TrainConfig of AU model ``au`` on ``dataset``: global ``train``, then the dataset's and the AU's."""
    fixed = {} if seed is None else {"seed": seed}
    return _build(TrainConfig, cfg.train, _layers(cfg, dataset, au, "train"), "train", fixed)


def model_config(cfg: BenchmarkConfig, dataset: str, au: str, geometry: Mapping[str, int] | None = None) -> ModelConfig:
    """The ModelConfig of ``au`` on ``dataset``; ``geometry`` (from the dataset) sets channels, classes, size.

    A geometry value set explicitly in the config that disagrees with the dataset is a ConfigError.
    """
    layers = _layers(cfg, dataset, au, "model")
    if geometry:
        stated = _merge({k: v for k, v in cfg.model.model_dump().items() if k in cfg.model.model_fields_set},
                        *(p for _, p in layers))
        for key, value in geometry.items():
            if key in stated and stated[key] != value:
                raise ConfigError(f"model.{key} is {stated[key]}, but dataset {dataset!r} has {key} = {value}")
    return _build(ModelConfig, cfg.model, layers, "model", dict(geometry or {}))


def inference_config(cfg: BenchmarkConfig, seed: int) -> InferenceConfig:
    """The InferenceConfig of study seed ``seed``."""
    return cfg.inference.model_copy(update={"seed": seed})


def validate_config(values: Mapping[str, Any], *, source: str = "config") -> BenchmarkConfig:
    """Validate a raw config mapping; any problem is a ConfigError naming each bad key."""
    try:
        return BenchmarkConfig(**dict(values))
    except ConfigError as err:
        raise ConfigError(f"invalid benchmark {source}: {err}") from None
    except ValidationError as err:
        problems = []
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"])
            message = e["msg"].removeprefix("Value error, ")
            problems.append(f"{loc}: {message}" if loc else message)
        raise ConfigError(f"invalid benchmark {source}: " + "; ".join(problems)) from None
