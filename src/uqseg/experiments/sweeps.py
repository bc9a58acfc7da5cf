"""Planning the open-question sweeps of shift severity, model size, training length (docs/method.md
"Entanglement versus shift severity, model size and training") and the disentanglement error's sweeps.

Each sweep level is a folder ``sweeps/<sweep>-<factor>/`` laid out like a run directory (``predictions/…``,
``metrics/…``); its metrics files carry their own ``analysis`` label and join the study's in ``results.parquet``.

- ``severity`` (no training): every generated dataset whose OOD splits have a severity is generated again with each
  shift at ``factor`` × its configured severity (at most ``data.shifts.MAX_SEVERITY``); the study's trained models
  predict its OOD splits, and the metrics reuse the study's validation and ID test predictions. Rows of an OOD split
  are labelled ``severity:<split>:<severity>``; a level whose severity is capped to the same value as a lower one is
  left out for that split. Factor 1 evaluates the study's own predictions again. Datasets read from a prepared
  ``root`` have fixed shifts and are skipped.
- ``width``: the chosen combinations trained again with the base width scaled by ``factor`` (rounded to a multiple of
  the attention heads, at least one multiple), predicted and evaluated on every split, rows labelled
  ``width:<factor>`` with one extra row per combination, task ``SIZE``, metric ``parameters`` (one network's
  learnable parameters). A level that leaves the width unchanged reuses the study's runs and, when the combination is
  in the study, its predictions.
- ``epoch``: the chosen combinations trained once more at their configured E epochs with snapshots after
  n = ``fraction`` × E epochs (rounded, at least 1; ``TrainConfig.snapshot_epochs``, in the runs' keys): the EMA
  weights and the SWAG state collected so far, every ensemble member at the same n. Each snapshot with n < E is
  predicted and evaluated like the study, rows labelled ``epoch:<n>``; n = E is the study's own run and predictions
  (the snapshot run's last snapshot holds the same weights). A SWAG or SWAG-D snapshot holding fewer than two
  collected epochs has no posterior (a variance, and SWAG's low-rank term, need two): its level gets one ``EPOCH``
  row with NaN and the reason, and no snapshot run is trained when no level is left. Sub-ensembles write no
  snapshots.
- ``disentanglement``: ``uqseg.experiments.disentanglement_sweep``.

The steps are keyed like the study's, so a sweep switched on later redoes none of the study's training, prediction
or metrics steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from uqseg.data.shifts import MAX_SEVERITY
from uqseg.errors import ConfigError
from uqseg.experiments import stepfns
from uqseg.experiments.config import BenchmarkConfig, inference_config, model_config, train_config
from uqseg.experiments.dag import StepGraph
from uqseg.experiments.steps import Step, make_step
from uqseg.layout import RunLayout
from uqseg.nn.config import ModelConfig
from uqseg.training.config import TrainConfig
from uqseg.training.plan import TrainingRun, runs_for_combination
from uqseg.vocabulary import parse_combination

SWEEPS_DIR = "sweeps"
SWAG_EPOCHS = 2  # collected epochs a SWAG posterior needs: a variance (and SWAG's low-rank term) needs two
PREDICT_COST, METRICS_COST = 0.3, 0.05


class Planner(Protocol):
    """What the study's planner offers the sweeps (``uqseg.experiments.study``)."""

    cfg: BenchmarkConfig
    graph: StepGraph
    data: dict[str, Step]
    records: dict[str, Any]

    def runs(self, dataset: str, seed: int, au: str, eu: str) -> list[TrainingRun]: ...

    def training_step(self, dataset: str, seed: int, run: TrainingRun, tag: str = "") -> Step: ...


@dataclass(frozen=True)
class Level:
    """One sweep level: its folder (relative to the run directory) and label."""

    sweep: str
    factor: float

    @property
    def name(self) -> str:
        return f"{self.sweep}-{self.factor:g}"

    @property
    def layout(self) -> RunLayout:
        return RunLayout(Path(SWEEPS_DIR) / self.name)


def severity_label(split: str, severity: float) -> str:
    """The ``analysis`` of a severity-sweep row: ``severity:<split>:<severity>``."""
    return f"severity:{split}:{severity:g}"


def width_label(factor: float) -> str:
    """The ``analysis`` of a width-sweep row: ``width:<factor>``."""
    return f"width:{factor:g}"


def epoch_label(epochs: int) -> str:
    """The ``analysis`` of an epoch-sweep row: ``epoch:<n>``."""
    return f"epoch:{epochs}"


def scaled_width(base_width: int, factor: float, multiple: int) -> int:
    """``factor`` × ``base_width`` rounded to the nearest multiple of ``multiple`` (the attention heads), at least
    one multiple (docs/method.md "Entanglement versus shift severity, model size and training")."""
    return max(multiple, round(base_width * factor / multiple) * multiple)


def sweep_combos(cfg: BenchmarkConfig, sweep: str) -> list[tuple[str, str]]:
    """The (au, eu) pairs a sweep runs: its ``combos``, else every study combination (severity) or the first two
    (width, epoch). A severity combination must be in the study (its trained models are reused)."""
    section = getattr(cfg.sweeps, sweep)
    study = cfg.combinations()
    if not section.combos:
        return study if sweep == "severity" else study[:2]
    pairs = []
    for combo in section.combos:
        try:
            au, eu = parse_combination(combo)
        except ConfigError as err:
            raise ConfigError(f"sweeps.{sweep}.combos: {err}") from None
        if sweep == "severity" and (au, eu) not in study:
            raise ConfigError(f"sweeps.severity.combos: {combo!r} is not a combination of the study")
        pairs.append((au, eu))
    return pairs


def _combo(dataset: str, seed: int, au: str, eu: str) -> str:
    return f"{dataset}/seed{seed}/{au}+{eu}"


def _metrics_step(planner: Planner, level: Level, dataset: str, seed: int, au: str, eu: str, data: Step,
                  deps: list[Step], *, predictions: str, sources: Mapping[str, str], labels: Mapping[str, str],
                  parameters: int | None = None) -> Step:
    out = level.layout.metrics(dataset, seed, au, eu).as_posix()
    params = {"dataset": dataset, "seed": seed, "au": au, "eu": eu, "data": data.params["data"],
              "predictions": predictions, "sources": dict(sources), "labels": dict(labels), "parameters": parameters,
              "out": out, "batch_size": planner.cfg.evaluation.batch_size}
    inputs = {"combo": _combo(dataset, seed, au, eu), "evaluation": planner.cfg.evaluation, "labels": dict(labels),
              "parameters": parameters}
    return planner.graph.add(make_step(f"metrics/{level.name}/{_combo(dataset, seed, au, eu)}", "metrics",
                                       run_sweep_metrics, inputs, [data, *deps], params=params, outputs=(out,),
                                       cost=METRICS_COST * sum(planner.records[dataset].sizes.values())))


def _predict_steps(planner: Planner, level: Level, dataset: str, seed: int, au: str, eu: str, runs: list[TrainingRun],
                   data: Step, trained: list[Step], splits: list[str], snapshot: int | None = None) -> list[Step]:
    """Predict ``splits`` with the trained ``runs``, or with their snapshots after epoch ``snapshot``."""
    infer = inference_config(planner.cfg, seed)
    fn = stepfns.run_prediction if snapshot is None else run_snapshot_prediction
    steps = []
    for split in splits:
        out = level.layout.prediction_file(dataset, seed, au, eu, split).as_posix()
        inputs = {"au": au, "eu": eu, "split": split, "inference": infer, "level": level.name}
        if au == "tta":
            inputs["tta"] = runs[0].model.tta
        params = {"au": au, "eu": eu, "split": split, "runs": runs, "inference": infer, "data": data.params["data"],
                  "out": out}
        if snapshot is not None:
            inputs["snapshot"] = params["snapshot"] = snapshot
        gpus = 1.0 if infer.device.startswith("cuda") else 0.0
        cost = PREDICT_COST * planner.records[dataset].sizes.get(split, 1)
        steps.append(planner.graph.add(make_step(
            f"predict/{level.name}/{_combo(dataset, seed, au, eu)}/{split}", "predict", fn,
            inputs, [data, *trained], params=params, outputs=(out,), num_gpus=gpus, cost=cost)))
    return steps


def _main_file(dataset: str, seed: int, au: str, eu: str, split: str) -> str:
    return RunLayout.relative().prediction_file(dataset, seed, au, eu, split).as_posix()


def _main_predictions(planner: Planner, dataset: str, seed: int, au: str, eu: str) -> list[Step]:
    combo = _combo(dataset, seed, au, eu)
    return [planner.graph[f"predict/{combo}/{split}"] for split in planner.records[dataset].evaluated_splits]


def base_severities(run_dir: Path, data: Mapping[str, Any]) -> dict[str, float]:
    """The configured severity of each OOD split of a generated dataset (its split ``meta``); empty for a dataset
    read from a prepared ``root`` or without severities."""
    if data.get("root"):
        return {}
    dataset = stepfns.open_dataset(run_dir, dict(data))
    found = {split: dataset.split(split).meta.get("severity") for split in dataset.info.ood_splits}
    shifts = dataset.split(dataset.info.ood_splits[0]).meta.get("shift_severity") if found else None
    if not shifts or any(v is None for v in found.values()):
        return {}
    return {split: float(v) for split, v in found.items()}


def severity_steps(planner: Planner, run_dir: Path) -> list[Step]:
    """The severity sweep's data, prediction and metrics steps; returns the metrics steps."""
    factors, pairs = planner.cfg.sweeps.severity.factors, sweep_combos(planner.cfg, "severity")
    metrics = []
    for dataset, main_data in planner.data.items():
        base = base_severities(run_dir, main_data.params["data"])
        if not base:
            continue
        shifts = stepfns.open_dataset(run_dir, dict(main_data.params["data"])).split(
            next(iter(base))).meta["shift_severity"]
        seen: dict[str, set[float]] = {split: set() for split in base}
        for factor in factors:
            level = Level("severity", factor)
            kept = {}
            for split, severity in base.items():
                value = min(factor * severity, MAX_SEVERITY)
                if value not in seen[split]:
                    seen[split].add(value)
                    kept[split] = severity_label(split, value)
            if not kept:
                continue
            data = main_data
            if factor != 1.0:
                params = dict(main_data.params["data"])
                options = {**params["options"], "shift_severity": {s: min(factor * float(v), MAX_SEVERITY)
                                                                   for s, v in shifts.items()}}
                params["options"] = options
                record = (RunLayout.relative().dataset_records / f"{dataset}-{level.name}.json").as_posix()
                data = planner.graph.add(make_step(
                    f"data/{dataset}/{level.name}", "data", stepfns.run_data, {"dataset": dataset, "options": options},
                    params={"data": params, "info_file": record}, outputs=(record,)))
            for seed in planner.cfg.dataset_seeds(dataset):
                for au, eu in pairs:
                    main = _main_predictions(planner, dataset, seed, au, eu)
                    if factor == 1.0:
                        predicted, folder = main, RunLayout.relative().predictions(dataset, seed, au, eu)
                        sources: dict[str, str] = {}
                    else:
                        runs = planner.runs(dataset, seed, au, eu)
                        trained = [planner.training_step(dataset, seed, run) for run in runs]
                        predicted = _predict_steps(planner, level, dataset, seed, au, eu, runs, data, trained,
                                                   list(kept))
                        folder = level.layout.predictions(dataset, seed, au, eu)
                        sources = {split: _main_file(dataset, seed, au, eu, split)
                                   for split in ("val", "test", *(s for s in base if s not in kept))}
                        predicted = [*predicted, *main]
                    metrics.append(_metrics_step(planner, level, dataset, seed, au, eu, data, predicted,
                                                 predictions=folder.as_posix(), sources=sources, labels=kept))
    return metrics


def _retrained(planner: Planner, level: Level, dataset: str, seed: int, au: str, eu: str, model: ModelConfig,
               train: TrainConfig, label: str, parameters: int | None = None) -> Step:
    """Train ``au+eu`` with ``model`` and ``train``, predict every split and evaluate it under ``label``; runs equal to
    the study's are its own steps (and its predictions, when the combination is in the study)."""
    cfg, record, data = planner.cfg, planner.records[dataset], planner.data[dataset]
    runs = runs_for_combination(au, eu, dataset=dataset, dataset_options=cfg.datasets[dataset].options, seed=seed,
                                model=model, train=train, ensemble_size=cfg.inference.ensemble_size)
    trained = [planner.training_step(dataset, seed, run, tag=f"{level.name}/") for run in runs]
    same = [r.key for r in runs] == [r.key for r in planner.runs(dataset, seed, au, eu)]
    if same and (au, eu) in cfg.combinations():
        predicted = _main_predictions(planner, dataset, seed, au, eu)
        folder = RunLayout.relative().predictions(dataset, seed, au, eu)
    else:
        predicted = _predict_steps(planner, level, dataset, seed, au, eu, runs, data, trained, record.evaluated_splits)
        folder = level.layout.predictions(dataset, seed, au, eu)
    labels = {split: label for split in record.evaluated_splits}
    return _metrics_step(planner, level, dataset, seed, au, eu, data, predicted, predictions=folder.as_posix(),
                         sources={}, labels=labels, parameters=parameters)


def width_steps(planner: Planner) -> list[Step]:
    """The width sweep's training, prediction and metrics steps; returns the metrics steps."""
    from uqseg.nn.sizes import parameter_counts  # local: builds the models (torch), which only this sweep needs

    cfg = planner.cfg
    metrics = []
    for factor in cfg.sweeps.width.factors:
        level = Level("width", factor)
        for dataset in planner.data:
            for seed in cfg.dataset_seeds(dataset):
                for au, eu in sweep_combos(cfg, "width"):
                    model = model_config(cfg, dataset, au, planner.records[dataset].geometry)
                    model = model.model_copy(
                        update={"base_width": scaled_width(model.base_width, factor, model.num_heads)})
                    metrics.append(_retrained(planner, level, dataset, seed, au, eu, model,
                                              train_config(cfg, dataset, au, seed), width_label(factor),
                                              parameter_counts(model)[au]))
    return metrics


def epoch_count(epochs: int, fraction: float) -> int:
    """``fraction`` × ``epochs`` rounded (halves up), at least 1 (docs/method.md "Entanglement versus shift
    severity, model size and training")."""
    return max(1, int(fraction * epochs + 0.5))


def snapshot_levels(epochs: int, fractions: list[float]) -> dict[int, float]:
    """Each distinct snapshot epoch ``epoch_count(epochs, f)`` with the first fraction ``f`` giving it."""
    levels: dict[int, float] = {}
    for fraction in fractions:
        levels.setdefault(epoch_count(epochs, fraction), fraction)
    return levels


def epoch_steps(planner: Planner) -> list[Step]:
    """The epoch sweep's training, prediction and metrics steps (rows ``epoch:<n>``); returns the metrics steps.

    One training run per run of the combination at its configured E epochs writes snapshots after every level's n
    epochs (``TrainConfig.snapshot_epochs``, in its key); each n < E is predicted from the snapshots, n = E is the
    study's run and predictions. A SWAG combination's snapshot taken before its posterior exists (``SWAG_EPOCHS``
    collected epochs) gets one ``EPOCH`` row saying so instead of metrics."""
    cfg = planner.cfg
    metrics = []
    for dataset in planner.data:
        geometry = planner.records[dataset].geometry
        for seed in cfg.dataset_seeds(dataset):
            for au, eu in sweep_combos(cfg, "epoch"):
                if eu == "subensemble":
                    raise ConfigError("sweeps.epoch.combos: sub-ensembles' mask training writes no snapshots")
                train = train_config(cfg, dataset, au, seed)
                levels = snapshot_levels(train.epochs, cfg.sweeps.epoch.fractions)
                model = model_config(cfg, dataset, au, geometry)
                if train.epochs in levels:
                    metrics.append(_retrained(planner, Level("epoch", levels[train.epochs]), dataset, seed, au, eu,
                                              model, train, epoch_label(train.epochs)))
                early = [n for n in sorted(levels) if n < train.epochs]
                if early:
                    metrics += _snapshot_levels(planner, dataset, seed, au, eu, model, train, levels, early)
    return metrics


def _snapshot_levels(planner: Planner, dataset: str, seed: int, au: str, eu: str, model: ModelConfig,
                     train: TrainConfig, levels: dict[int, float], early: list[int]) -> list[Step]:
    cfg, record, data = planner.cfg, planner.records[dataset], planner.data[dataset]
    first_swag = train.swag_start_epoch() + 1
    needed = SWAG_EPOCHS if eu in ("swag", "swag_d") else 0
    missing = [n for n in early if needed and n - first_swag + 1 < needed]
    steps = [_no_posterior_step(planner, Level("epoch", levels[n]), dataset, seed, au, eu, data, n, first_swag)
             for n in missing]
    evaluated = [n for n in early if n not in missing]
    if not evaluated:
        return steps
    snap = train.model_copy(update={"snapshot_epochs": tuple(sorted(levels))})
    runs = runs_for_combination(au, eu, dataset=dataset, dataset_options=cfg.datasets[dataset].options, seed=seed,
                                model=model, train=snap, ensemble_size=cfg.inference.ensemble_size)
    trained = [planner.training_step(dataset, seed, run, tag="epoch-snapshots/") for run in runs]
    for n in evaluated:
        level = Level("epoch", levels[n])
        predicted = _predict_steps(planner, level, dataset, seed, au, eu, runs, data, trained,
                                   record.evaluated_splits, snapshot=n)
        labels = {split: epoch_label(n) for split in record.evaluated_splits}
        steps.append(_metrics_step(planner, level, dataset, seed, au, eu, data, predicted,
                                   predictions=level.layout.predictions(dataset, seed, au, eu).as_posix(),
                                   sources={}, labels=labels))
    return steps


def _no_posterior_step(planner: Planner, level: Level, dataset: str, seed: int, au: str, eu: str, data: Step,
                       n: int, first_swag: int) -> Step:
    out = level.layout.metrics(dataset, seed, au, eu).as_posix()
    status = (f"undefined: no SWAG posterior after epoch {n} (SWAG collects from epoch {first_swag} and needs "
              f"{SWAG_EPOCHS} collected epochs)")
    params = {"dataset": dataset, "seed": seed, "au": au, "eu": eu, "analysis": epoch_label(n), "status": status,
              "out": out}
    return planner.graph.add(make_step(
        f"metrics/{level.name}/{_combo(dataset, seed, au, eu)}", "metrics", run_no_posterior,
        {"combo": _combo(dataset, seed, au, eu), "status": status}, [data], params=params, outputs=(out,),
        cost=METRICS_COST))


def sweep_steps(planner: Planner, run_dir: Path) -> list[Step]:
    """The metrics steps of every sweep switched on in ``sweeps.run`` (their upstream steps added to the graph)."""
    metrics = []
    if "severity" in planner.cfg.sweeps.run:
        metrics += severity_steps(planner, run_dir)
    if "width" in planner.cfg.sweeps.run:
        metrics += width_steps(planner)
    if "epoch" in planner.cfg.sweeps.run:
        metrics += epoch_steps(planner)
    if "disentanglement" in planner.cfg.sweeps.run:
        from uqseg.experiments.disentanglement_sweep import disentanglement_steps  # local: it builds on this module

        metrics += disentanglement_steps(planner, run_dir)
    return metrics


def run_snapshot_prediction(step: Step, run_dir: Path) -> None:
    """Predict one split with the runs' snapshots after epoch ``step.params["snapshot"]`` (docs/method.md
    "Entanglement versus shift severity, model size and training", over training)."""
    from uqseg.experiments.sweep_rows import predict_snapshot  # local: the inference layer loads the models' code

    predict_snapshot(step.params, run_dir)


def run_no_posterior(step: Step, run_dir: Path) -> None:
    """Write the one ``EPOCH`` row of a SWAG level whose snapshot precedes SWAG collection."""
    from uqseg.experiments.sweep_rows import write_no_posterior

    write_no_posterior(step.params, run_dir)


def run_sweep_metrics(step: Step, run_dir: Path) -> None:
    """Evaluate one combination at one sweep level (docs/method.md §3) and keep the rows of ``labels``' splits,
    each with its ``analysis`` label, plus the ``SIZE`` row when ``parameters`` is given."""
    from uqseg.experiments.sweep_rows import evaluate_level  # local: the inference layer loads the models' code

    evaluate_level(step.params, run_dir)
