"""Planning the benchmark DAG: data → training runs → inference per combination and split → metrics per
combination → results table → report.

Planning has two phases. The data steps come first; once they are done their recorded DatasetInfo (channels,
classes, image size, OOD splits, split sizes) fixes the model geometry and the splits to predict, and the rest of
the graph is planned. Training runs are planned with ``uqseg.training.plan.runs_for_combination`` and deduplicated
by run key, so No-EU, SWAG and SWAG-D share one run and ensemble member 1 reuses it (docs/method.md §6).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from uqseg.errors import InputError
from uqseg.experiments import stepfns
from uqseg.experiments.analysis_steps import analysis_steps
from uqseg.experiments.config import BenchmarkConfig, inference_config, model_config, train_config
from uqseg.experiments.dag import StepGraph
from uqseg.experiments.paths import check_relative, input_path, slug
from uqseg.experiments.steps import Step, make_step
from uqseg.experiments.sweeps import sweep_steps
from uqseg.inference.config import InferenceConfig
from uqseg.layout import RunLayout
from uqseg.training.config import TrainConfig
from uqseg.training.plan import TrainingRun, base_run, runs_for_combination
from uqseg.vocabulary import instance_count

# Relative cost per image of one training pass, one predictive forward pass and one evaluated image; the progress
# display weighs steps by these to estimate the time left.
TRAIN_COST, PREDICT_COST, METRICS_COST = 1.0, 0.3, 0.05
RELATIVE = RunLayout.relative()


@dataclass(frozen=True)
class DataRecord:
    """What a finished data step recorded about its dataset."""

    name: str
    num_classes: int
    in_channels: int
    image_size: tuple[int, int]
    ood_splits: tuple[str, ...]
    sizes: dict[str, int]

    @property
    def geometry(self) -> dict[str, int]:
        if self.image_size[0] != self.image_size[1]:
            raise InputError(f"dataset {self.name!r} has non-square images {self.image_size}; the UNet needs square")
        return {"in_channels": self.in_channels, "num_classes": self.num_classes, "image_size": self.image_size[0]}

    @property
    def evaluated_splits(self) -> list[str]:
        """Validation first (it fits Platt scaling and τ), then the ID test and the OOD splits (docs/method.md §3)."""
        return ["val", "test", *self.ood_splits]


def data_params(cfg: BenchmarkConfig, name: str) -> dict[str, Any]:
    """Where and how dataset ``name`` is opened (root is an input path; cache_dir stays in the run directory)."""
    entry = cfg.datasets[name]
    cache = entry.cache_dir or RELATIVE.data(name).as_posix()
    check_relative(cache, what=f"datasets.{name}.cache_dir")
    root = str(input_path(entry.root)) if entry.root else None
    return {"dataset": name, "options": dict(entry.options), "root": root, "cache_dir": cache}


def info_file(name: str) -> str:
    """The data step's record of dataset ``name``, relative to the run directory."""
    return (RELATIVE.dataset_records / f"{slug(name)}.json").as_posix()


def data_steps(cfg: BenchmarkConfig) -> list[Step]:
    """One step per dataset: generate or open it and record its info. Its key leaves out where data lives."""
    steps = []
    for name in cfg.datasets:
        params = data_params(cfg, name)
        inputs = {"dataset": name, "options": params["options"]}
        steps.append(make_step(f"data/{name}", "data", stepfns.run_data, inputs,
                               params={"data": params, "info_file": info_file(name)}, outputs=(info_file(name),)))
    return steps


def read_data_record(run_dir: Path, name: str) -> DataRecord:
    """The DataRecord a finished data step wrote."""
    path = Path(run_dir) / info_file(name)
    try:
        record = json.loads(path.read_text())
        info = record["info"]
        return DataRecord(name, int(info["num_classes"]), int(info["in_channels"]),
                          tuple(int(v) for v in info["image_size"]), tuple(info["ood_splits"]),
                          {k: int(v) for k, v in record["splits"].items()})
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"dataset record {path} is missing or corrupt ({err}); delete it to redo the data step") \
            from None


def combination_runs(cfg: BenchmarkConfig, record: DataRecord, dataset: str, seed: int, au: str,
                     eu: str) -> list[TrainingRun]:
    """The training runs ``au+eu`` needs on ``dataset`` with study seed ``seed``, the model sized by the dataset's
    ``record`` (docs/method.md §6 shared runs), member 1 first."""
    return runs_for_combination(
        au, eu, dataset=dataset, dataset_options=cfg.datasets[dataset].options, seed=seed,
        model=model_config(cfg, dataset, au, record.geometry), train=train_config(cfg, dataset, au, seed),
        ensemble_size=cfg.inference.ensemble_size,
    )


def _gpus(train: TrainConfig) -> float:
    if train.accelerator not in ("cuda", "gpu"):
        return 0.0
    return float(train.devices) if isinstance(train.devices, int) else 1.0


def _training_cost(run: TrainingRun, n_train: int) -> float:
    per_epoch = n_train
    limit = run.train.limit_train_batches
    if isinstance(limit, int):
        per_epoch = min(n_train, limit * run.train.batch_size)
    elif isinstance(limit, float):
        per_epoch = int(n_train * limit)
    return TRAIN_COST * run.train.epochs * max(per_epoch, 1)


def _prediction_count(au: str, eu: str, cfg: InferenceConfig) -> int:
    return cfg.samples_for(au) * instance_count(eu, cfg.instances, cfg.ensemble_size)


class _Planner:
    def __init__(self, cfg: BenchmarkConfig, run_dir: Path, records: dict[str, DataRecord], data: list[Step]):
        self.cfg, self.run_dir, self.records = cfg, run_dir, records
        self.data = {step.params["data"]["dataset"]: step for step in data}
        self.graph = StepGraph(satisfied=[step.name for step in data])
        self.trained: dict[str, Step] = {}

    def runs(self, dataset: str, seed: int, au: str, eu: str) -> list[TrainingRun]:
        return combination_runs(self.cfg, self.records[dataset], dataset, seed, au, eu)

    def training_step(self, dataset: str, seed: int, run: TrainingRun, tag: str = "") -> Step:
        """The training step of ``run``, planned once per run key; ``tag`` prefixes the run's name in a step name
        (a sweep's runs beside the study's)."""
        if run.key not in self.trained:
            step = make_step(
                f"train/{dataset}/seed{seed}/{tag}{run.name}", "train", stepfns.run_training, {"run": run.key},
                [self.data[dataset], *(self.trained[b.key] for b in [base_run(run)] if b is not None)],
                params={"run": run, "data": self.data[dataset].params["data"]},
                outputs=(f"training/{run.key}/COMPLETE",), num_gpus=_gpus(run.train),
                cost=_training_cost(run, self.records[dataset].sizes["train"]),
            )
            self.trained[run.key] = self.graph.add(step)
        return self.trained[run.key]

    def combination(self, dataset: str, seed: int, au: str, eu: str) -> Step:
        runs = self.runs(dataset, seed, au, eu)
        trained = [self.training_step(dataset, seed, run) for run in runs]
        infer = inference_config(self.cfg, seed)
        combo = f"{dataset}/seed{seed}/{au}+{eu}"
        pred_dir = RELATIVE.predictions(dataset, seed, au, eu).as_posix()
        check_relative(pred_dir, what="predictions folder")
        record, data = self.records[dataset], self.data[dataset]
        predicted = []
        for split in record.evaluated_splits:
            inputs = {"au": au, "eu": eu, "split": split, "inference": infer}
            if au == "tta":  # its test-time augmentation is in no key of the softmax runs it may share
                inputs["tta"] = runs[0].model.tta
            params = {"au": au, "eu": eu, "split": split, "runs": runs, "inference": infer,
                      "data": data.params["data"],
                      "out": RELATIVE.prediction_file(dataset, seed, au, eu, split).as_posix()}
            gpus = 1.0 if infer.device.startswith("cuda") else 0.0
            cost = PREDICT_COST * record.sizes[split] * _prediction_count(au, eu, infer)
            predicted.append(self.graph.add(make_step(
                f"predict/{combo}/{split}", "predict", stepfns.run_prediction, inputs, [data, *trained],
                params=params, outputs=(params["out"],), num_gpus=gpus, cost=cost)))
        out = RELATIVE.metrics(dataset, seed, au, eu).as_posix()
        params = {"dataset": dataset, "seed": seed, "au": au, "eu": eu, "data": data.params["data"],
                  "predictions": pred_dir, "out": out, "batch_size": self.cfg.evaluation.batch_size}
        n_images = sum(record.sizes[s] for s in record.evaluated_splits)
        return self.graph.add(make_step(
            f"metrics/{combo}", "metrics", stepfns.run_metrics, {"combo": combo, "evaluation": self.cfg.evaluation},
            [data, *predicted], params=params, outputs=(out,), cost=METRICS_COST * n_images))


def study_graph(cfg: BenchmarkConfig, run_dir: Path, data: list[Step]) -> StepGraph:
    """The graph after the data steps: training, inference, metrics, results and (if enabled) the report."""
    records = {name: read_data_record(run_dir, name) for name in cfg.datasets}
    planner = _Planner(cfg, run_dir, records, data)
    metrics = [planner.combination(dataset, seed, au, eu)
               for dataset in cfg.datasets for seed in cfg.dataset_seeds(dataset) for au, eu in cfg.combinations()]
    metrics += analysis_steps(cfg, planner.graph, planner.data, metrics)
    metrics += sweep_steps(planner, run_dir)
    results = planner.graph.add(make_step(
        "results", "results", stepfns.run_results, {"metrics": [m.name for m in metrics]}, metrics,
        params={"metrics": [m.params["out"] for m in metrics]},
        outputs=(RELATIVE.results.as_posix(), RELATIVE.results_csv.as_posix())))
    if cfg.report:
        datasets = {name: step.params["data"] for name, step in planner.data.items()}
        planner.graph.add(make_step("report", "report", stepfns.run_report, {}, [results], params={"data": datasets},
                                    outputs=(RELATIVE.report_index.as_posix(),), cost=5.0))
    return planner.graph
