"""Planning the disentanglement error's two sweeps as study steps (docs/method.md "Disentanglement error").

For each chosen combination, dataset and study seed:

- aleatoric sweep (generated datasets only): the dataset generated again with its annotator ambiguity at each
  ``sweeps.disentanglement.ambiguity`` factor × the configured ambiguity (capped at the generator's maximum; a capped
  level equal to a lower one is left out), trained and its ID test split predicted, in ``sweeps/aleatoric-<f>/``;
- epistemic sweep (any dataset): the combination trained on each ``sweeps.disentanglement.fractions`` of the training
  split (``TrainConfig.train_fraction``, one fixed subset for every seed and member) and its ID test split predicted,
  in ``sweeps/epistemic-<f>/``.

Factor 1 and fraction 1 are the study's own runs and, when the combination is in the study, its test predictions.
One step per combination and dataset then reads the mean estimated AU and EU over the ID test pixels of every level
and seed and writes the disentanglement error of each seed with its four correlations, labelled ``disentanglement``,
and the per-level means, labelled ``disentanglement:<sweep>:<level>`` (``uqseg.experiments.disentanglement_rows``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from uqseg.data.synthetic.options import MAX_AMBIGUITY
from uqseg.errors import ConfigError
from uqseg.experiments import stepfns
from uqseg.experiments.config import model_config, train_config
from uqseg.experiments.disentanglement_rows import ALEATORIC, EPISTEMIC, run_disentanglement
from uqseg.experiments.steps import Step, make_step
from uqseg.experiments.sweeps import SWEEPS_DIR, Level, Planner, _combo, _main_file, _predict_steps, sweep_combos
from uqseg.layout import RunLayout
from uqseg.training.plan import TrainingRun, runs_for_combination

DE_COST = 0.01


def base_ambiguity(run_dir: Path, data: dict[str, Any]) -> float | None:
    """The configured annotator ambiguity of a generated dataset (its test split's ``meta``); None for a dataset
    read from a prepared ``root`` or a generator without one."""
    if data.get("root"):
        return None
    value = stepfns.open_dataset(run_dir, dict(data)).split("test").meta.get("ambiguity")
    return None if value is None else float(value)


def aleatoric_levels(base: float | None, factors: list[float]) -> list[tuple[float, float]]:
    """(factor, ambiguity) of each aleatoric level: factor × ``base`` capped at the generator's maximum, a capped
    value equal to a lower one left out; none without a generator or at ambiguity 0 (every level would be 0)."""
    if not base:
        return []
    levels: list[tuple[float, float]] = []
    for factor in factors:
        value = min(factor * base, MAX_AMBIGUITY)
        if value not in {v for _, v in levels}:
            levels.append((factor, value))
    return levels


def _train_on(planner: Planner, data: Step, dataset: str, seed: int, runs: list[TrainingRun], tag: str) -> list[Step]:
    """Training steps of ``runs`` on a level's own data step (the planner's own training steps use the study's)."""
    steps = []
    n_train = planner.records[dataset].sizes["train"]
    for run in runs:
        gpus = 1.0 if run.train.accelerator in ("cuda", "gpu") else 0.0
        steps.append(planner.graph.add(make_step(
            f"train/{dataset}/seed{seed}/{tag}{run.name}", "train", stepfns.run_training, {"run": run.key}, [data],
            params={"run": run, "data": data.params["data"]}, outputs=(f"training/{run.key}/COMPLETE",),
            num_gpus=gpus, cost=float(run.train.epochs * n_train))))
    return steps


def _level(planner: Planner, level: Level, data: Step, dataset: str, seed: int, au: str, eu: str,
           options: dict[str, Any], fraction: float) -> tuple[list[Step], str]:
    """The steps that predict one level's ID test split and where its predictions file is; the study's own where the
    runs' keys match and the combination is in the study."""
    cfg = planner.cfg
    train = train_config(cfg, dataset, au, seed)
    if fraction != 1.0:
        train = train.model_copy(update={"train_fraction": fraction})
    runs = runs_for_combination(au, eu, dataset=dataset, dataset_options=options, seed=seed,
                                model=model_config(cfg, dataset, au, planner.records[dataset].geometry), train=train,
                                ensemble_size=cfg.inference.ensemble_size)
    same = [r.key for r in runs] == [r.key for r in planner.runs(dataset, seed, au, eu)]
    if same and (au, eu) in cfg.combinations():
        return [planner.graph[f"predict/{_combo(dataset, seed, au, eu)}/test"]], _main_file(dataset, seed, au, eu,
                                                                                             "test")
    if data is planner.data[dataset]:
        trained = [planner.training_step(dataset, seed, run, tag=f"{level.name}/") for run in runs]
    else:
        trained = _train_on(planner, data, dataset, seed, runs, tag=f"{level.name}/")
    predicted = _predict_steps(planner, level, dataset, seed, au, eu, runs, data, trained, ["test"])
    return predicted, level.layout.prediction_file(dataset, seed, au, eu, "test").as_posix()


def _ambiguity_data(planner: Planner, dataset: str, level: Level, value: float) -> Step:
    main = planner.data[dataset]
    params = dict(main.params["data"])
    params["options"] = {**params["options"], "ambiguity": value}
    record = (RunLayout.relative().dataset_records / f"{dataset}-{level.name}.json").as_posix()
    return planner.graph.add(make_step(
        f"data/{dataset}/{level.name}", "data", stepfns.run_data, {"dataset": dataset, "options": params["options"]},
        params={"data": params, "info_file": record}, outputs=(record,)))


def de_output(dataset: str, au: str, eu: str) -> str:
    """The disentanglement rows of one combination on one dataset, relative to the run directory."""
    return (Path(SWEEPS_DIR) / "disentanglement" / dataset / f"{au}+{eu}.parquet").as_posix()


def disentanglement_steps(planner: Planner, run_dir: Path) -> list[Step]:
    """The disentanglement sweeps' data, training, prediction and rows steps; returns the rows steps (one per
    combination and dataset)."""
    cfg, section = planner.cfg, planner.cfg.sweeps.disentanglement
    pairs = sweep_combos(cfg, "disentanglement")
    if any(eu == "subensemble" for _, eu in pairs):
        raise ConfigError("sweeps.disentanglement.combos: sub-ensembles' mask training has no training-set fraction")
    rows = []
    for dataset, main_data in planner.data.items():
        options = dict(cfg.datasets[dataset].options)
        base = base_ambiguity(run_dir, main_data.params["data"])
        aleatoric = aleatoric_levels(base, section.ambiguity)
        data = {factor: main_data if factor == 1.0 else _ambiguity_data(planner, dataset, Level(ALEATORIC, factor), v)
                for factor, v in aleatoric}
        for au, eu in pairs:
            deps: list[Step] = []
            levels = []
            for seed in cfg.dataset_seeds(dataset):
                for factor, value in aleatoric:
                    level_options = options if factor == 1.0 else {**options, "ambiguity": value}
                    steps, path = _level(planner, Level(ALEATORIC, factor), data[factor], dataset, seed, au, eu,
                                         level_options, 1.0)
                    deps += steps
                    levels.append({"sweep": ALEATORIC, "level": value, "seed": seed, "file": path})
                for fraction in section.fractions:
                    steps, path = _level(planner, Level(EPISTEMIC, fraction), main_data, dataset, seed, au, eu,
                                         options, fraction)
                    deps += steps
                    levels.append({"sweep": EPISTEMIC, "level": fraction, "seed": seed, "file": path})
            out = de_output(dataset, au, eu)
            why = "" if aleatoric else ("a prepared dataset has no generator to vary the ambiguity"
                                        if main_data.params["data"].get("root") else
                                        "the dataset has no annotator ambiguity to vary")
            params = {"dataset": dataset, "au": au, "eu": eu, "levels": levels, "out": out,
                      "correlation": section.correlation, "no_aleatoric": why}
            inputs = {"combo": f"{dataset}/{au}+{eu}", "levels": [{k: v for k, v in lv.items() if k != "file"}
                                                                   for lv in levels],
                      "correlation": section.correlation}
            rows.append(planner.graph.add(make_step(
                f"metrics/disentanglement/{dataset}/{au}+{eu}", "metrics", run_disentanglement, inputs,
                [main_data, *deps], params=params, outputs=(out,), cost=DE_COST * len(levels))))
    return rows
