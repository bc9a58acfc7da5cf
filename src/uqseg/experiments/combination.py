"""One combination on one dataset and seed, through the benchmark's step DAG (``uqseg train`` and ``evaluate``).

``run_combination`` builds a one-combination study from a preset (one dataset, one seed, one AU+EU) and runs the
benchmark's own steps on it: the same run lock, resume markers, config validation and ``--set`` grammar. The model
is sized from the dataset (channels, classes, image size), as in the benchmark, and ``config.yaml`` and each
``training/<run-key>/run.json`` record what ran. ``train`` stops after the training steps; ``evaluate`` after the
metrics step (no ``results.parquet``, no report: those belong to a whole study).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from uqseg.errors import ConfigError
from uqseg.experiments.config import BenchmarkConfig, model_config, train_config, validate_config
from uqseg.experiments.presets import DEFAULT_PRESET, resolve_config
from uqseg.layout import RunLayout
from uqseg.vocabulary import parse_combination

STAGES = {"train": ("train",), "evaluate": ("train", "predict", "metrics")}
MAIN_FIGURES = (("AMB", "ncc", "none"), ("CAL", "ace_global", "none"), ("OODD", "auroc", "image"))


@dataclass(frozen=True)
class CombinationRun:
    """Where one combination's outputs are: its training runs and (after ``evaluate``) its metrics table."""

    run_dir: Path
    dataset: str
    seed: int
    au: str
    eu: str
    training: tuple[Path, ...]
    metrics: Path | None


def split_combo(combo: str) -> tuple[str, str]:
    """``(au, eu)`` of a valid ``AU+EU`` name, else a ConfigError naming ``--combo``."""
    try:
        return parse_combination(combo)
    except ConfigError as err:
        raise ConfigError(f"--combo {err}") from None


def combination_config(dataset: str, combo: str, *, preset: str | Path = DEFAULT_PRESET, seed: int = 0,
                       epochs: int | None = None, overrides: Sequence[str] = ()) -> BenchmarkConfig:
    """The validated one-combination study: ``preset`` and ``overrides`` as in ``uqseg benchmark``, restricted to
    ``dataset``, ``combo`` and study seed ``seed``; ``epochs`` replaces every epoch count of the preset (global,
    per dataset, per AU model). No report is built and no sweep runs."""
    split_combo(combo)
    if seed < 0:
        raise ConfigError(f"--seed must be non-negative, got {seed}")
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs must be at least 1, got {epochs}")
    cfg = resolve_config(preset, overrides=overrides, datasets=[dataset], combos=[combo])
    raw = cfg.model_dump(mode="json", exclude_unset=True)  # unset: the model's geometry still comes from the data
    raw.update(seeds=[seed], report=False)
    raw.pop("sweeps", None)  # the sweeps add rows to a study's results table, which a one-combination run has not
    for entry in raw["datasets"].values():
        entry.pop("seeds", None)
        if epochs is not None:
            for layer in (entry.get("train", {}), *(au.get("train", {}) for au in entry.get("au", {}).values())):
                layer.pop("epochs", None)
    if epochs is not None:
        raw["train"]["epochs"] = epochs
    return validate_config(raw, source=f"preset {cfg.name!r}")


def warmup_warnings(cfg: BenchmarkConfig) -> list[str]:
    """One line per AU model of ``cfg`` trained for fewer epochs than its warm-up (SSN's mean-only epochs, Prob.
    UNet's β warm-up; docs/method.md §5), which then never ends."""
    lines = []
    for dataset in cfg.datasets:
        for au in sorted({au for au, _ in cfg.combinations()}):
            epochs, model = train_config(cfg, dataset, au).epochs, model_config(cfg, dataset, au)
            warmup = {"ssn": ("model.ssn.mean_only_epochs", model.ssn.mean_only_epochs),
                      "prob_unet": ("model.prob_unet.beta_warmup_epochs", model.prob_unet.beta_warmup_epochs)}
            if au in warmup and epochs < warmup[au][1]:
                key, value = warmup[au]
                lines.append(f"{au} on {dataset}: {epochs} epochs is fewer than its warm-up ({key} = {value})")
    return lines


def check_run_dir(cfg: BenchmarkConfig, run_dir: Path) -> None:
    """Refuse a run directory holding a whole study: a one-combination run would replace its config."""
    layout = RunLayout(run_dir)
    if layout.results.exists():
        raise ConfigError(f"{run_dir} holds a benchmark's results; give uqseg train/evaluate another --out")
    if not layout.config.is_file():
        return
    try:
        recorded = yaml.safe_load(layout.config.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read {layout.config}: {' '.join(str(err).split())}") from None
    combos, datasets = recorded.get("combos") or [], recorded.get("datasets") or {}
    if len(combos) > 1 or len(datasets) > 1 or (datasets and set(datasets) != set(cfg.datasets)):
        raise ConfigError(f"{layout.config} records a study of {len(combos)} combinations on "
                          f"{', '.join(map(str, datasets)) or 'no dataset'}; give uqseg train/evaluate another --out")


def execute_combination(cfg: BenchmarkConfig, out: Path | str, *, stage: str = "evaluate",
                        progress: bool = False) -> CombinationRun:
    """Run the one-combination study ``cfg`` (from ``combination_config``) in ``out`` up to ``stage``."""
    from uqseg.experiments.runner import run_benchmark
    from uqseg.experiments.study import combination_runs, read_data_record

    if stage not in STAGES:
        raise ConfigError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if len(cfg.datasets) != 1 or len(cfg.combos) != 1 or len(cfg.seeds) != 1:
        raise ConfigError("a one-combination study has one dataset, one combination and one seed")
    out = Path(out)
    check_run_dir(cfg, out)
    run_benchmark(cfg, out, progress=progress, kinds=STAGES[stage])
    (dataset,) = cfg.datasets
    (seed,), ((au, eu),) = cfg.dataset_seeds(dataset), cfg.combinations()
    layout = RunLayout(out)
    runs = combination_runs(cfg, read_data_record(out, dataset), dataset, seed, au, eu)
    metrics = layout.metrics(dataset, seed, au, eu) if stage == "evaluate" else None
    return CombinationRun(out, dataset, seed, au, eu, tuple(layout.training(r.key) for r in runs), metrics)


def run_combination(dataset: str, combo: str, out: Path | str, *, preset: str | Path = DEFAULT_PRESET,
                    seed: int = 0, epochs: int | None = None, overrides: Sequence[str] = (),
                    stage: str = "evaluate", progress: bool = False) -> CombinationRun:
    """Train (``stage="train"``) or train, predict and evaluate (``stage="evaluate"``) one AU+EU combination on
    ``dataset`` with study seed ``seed`` in run directory ``out``, resuming whatever is already done there.

    ``preset`` and ``overrides`` (``KEY.SUBKEY=VALUE``) are those of ``uqseg benchmark``; ``epochs`` replaces
    every epoch count. Warns (UserWarning) when an AU model trains for fewer epochs than its warm-up. Returns the
    training run folders and the metrics table's path (``metrics/<dataset>/seed<s>/<au>+<eu>.parquet``).
    """
    cfg = combination_config(dataset, combo, preset=preset, seed=seed, epochs=epochs, overrides=overrides)
    for line in warmup_warnings(cfg):
        warnings.warn(line, UserWarning, stacklevel=2)
    return execute_combination(cfg, out, stage=stage, progress=progress)


def main_figures(table: pd.DataFrame) -> pd.DataFrame:
    """The combination's headline numbers: NCC (AMB), global ACE (CAL) and image-level AUROC (OODD) of TU, AU, EU
    per split, and Dice and GED of the prediction on the ID test split (docs/method.md §3)."""
    rows: list[dict[str, Any]] = []
    for task, metric, aggregation in MAIN_FIGURES:
        part = table[(table.task == task) & (table.metric == metric) & (table.aggregation == aggregation)]
        for split, group in part.groupby("split", sort=False):
            values = group.set_index("measure")["value"]
            rows.append({"task": task, "metric": metric, "split": split,
                         **{m: float(values.get(m, float("nan"))) for m in ("TU", "AU", "EU")}})
    seg = table[(table.task == "SEG") & (table.split == "test")]
    for metric in ("dice", "ged_dice"):
        value = seg.loc[seg.metric == metric, "value"]
        if len(value):
            rows.append({"task": "SEG", "metric": metric, "split": "test", "pred": float(value.iloc[0])})
    return pd.DataFrame(rows)
