"""What each benchmark step does: data → training → inference → metrics → results → report.

Every function takes ``(step, run_dir)``, reads what it needs from ``step.params`` and writes its outputs
atomically below ``run_dir`` (the layers it calls write atomically too). They run in the benchmark process or in a
Ray worker alike; a dataset is opened once per process and reused.
"""

from __future__ import annotations

import io
import json
import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from uqseg.atomic import write_bytes_atomic, write_text_atomic
from uqseg.data import get_dataset
from uqseg.data.contract import Dataset
from uqseg.errors import ConfigError, InputError, UqsegError
from uqseg.experiments.paths import inside_run_dir
from uqseg.experiments.steps import Step
from uqseg.layout import replicates_path
from uqseg.results import combine_metrics, combine_replicates, with_intervals, write_results
from uqseg.store import complete_predictions
from uqseg.training.plan import run_directory

_OPEN: dict[str, Dataset] = {}
VERBOSE_ENV = "UQSEG_VERBOSE"  # set (uqseg --verbose): Lightning's banner lines and tips show


def open_dataset(run_dir: Path, data: dict[str, Any]) -> Dataset:
    """The dataset described by a data step's params: its ``root`` if given, else generated into ``cache_dir``."""
    kwargs = dict(data["options"])
    if data.get("root"):
        kwargs["root"] = data["root"]
    else:
        kwargs["cache_dir"] = inside_run_dir(run_dir, data["cache_dir"], what=f"datasets.{data['dataset']}.cache_dir")
    memo = json.dumps([data["dataset"], {k: str(v) for k, v in kwargs.items()}], sort_keys=True)
    if memo not in _OPEN:
        try:
            _OPEN[memo] = get_dataset(data["dataset"], **kwargs)
        except TypeError as err:
            hint = "" if data.get("root") else f" (a prepared real dataset needs datasets.{data['dataset']}.root)"
            raise ConfigError(f"datasets.{data['dataset']}: its factory rejected the options: {err}{hint}") from None
    return _OPEN[memo]


def report_datasets(run_dir: Path, params: Mapping[str, Mapping[str, Any]]) -> dict[str, Dataset | str]:
    """Each dataset of ``params`` (name → its data step's params) opened for the report's qualitative panels, or the
    reason it could not be; none at all when the run stores no complete predictions of them."""
    if not any(complete_predictions(run_dir, name) for name in params):
        return {}
    out: dict[str, Dataset | str] = {}
    for name, data in params.items():
        try:
            out[name] = open_dataset(Path(run_dir), dict(data))
        except (UqsegError, OSError, ImportError, KeyError, TypeError, ValueError) as err:
            out[name] = f"{type(err).__name__}: {err}"
    return out


def dataset_record(dataset: Dataset) -> dict[str, Any]:
    """DatasetInfo and split sizes as JSON-ready data; an empty split is an InputError."""
    sizes = {name: len(dataset.split(name)) for name in dataset.info.splits}
    empty = [name for name, n in sizes.items() if n == 0]
    if empty:
        raise InputError(f"dataset {dataset.info.name!r} has empty splits {empty}")
    return {"info": asdict(dataset.info), "splits": sizes}


def run_data(step: Step, run_dir: Path) -> None:
    """Generate (or open and check) the dataset and record its info and split sizes."""
    record = dataset_record(open_dataset(run_dir, step.params["data"]))
    write_text_atomic(run_dir / step.params["info_file"], json.dumps(record, sort_keys=True, indent=1))


def run_training(step: Step, run_dir: Path) -> None:
    """Train one planned run (resuming from its last checkpoint) into ``training/<run-key>`` (docs/method.md §6, §7).

    Lightning's per-trainer notices (devices, tips, "max_epochs reached") are silenced unless ``UQSEG_VERBOSE`` is
    set (``uqseg --verbose``): the benchmark shows its own progress; warnings of the training itself still show.
    """
    from uqseg.training.train import train_run  # local: Lightning is heavy and only training steps need it

    if not os.environ.get(VERBOSE_ENV):
        for name in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)
    run = step.params["run"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated")
        train_run(run, open_dataset(run_dir, step.params["data"]), run_directory(run_dir, run), progress=False)


def run_prediction(step: Step, run_dir: Path) -> None:
    """Predict one split of one combination into its HDF5 file (docs/method.md §1, §6)."""
    from uqseg.inference.predict import load_method, predict_split  # local: loads the models' code

    p = step.params
    runs = p["runs"]
    cfg = p["inference"]
    method = load_method(p["au"], p["eu"], [run_directory(run_dir, r) for r in runs], runs, cfg)
    split = open_dataset(run_dir, p["data"]).split(p["split"])
    predict_split(p["au"], p["eu"], method, split, inside_run_dir(run_dir, p["out"]), cfg)


def run_metrics(step: Step, run_dir: Path) -> None:
    """Evaluate one combination's predictions (docs/method.md §3) into its tidy metrics table, and its bootstrap
    replicates (resamples seeded by dataset, seed and split) into ``<name>.bootstrap.parquet`` beside it."""
    from uqseg.inference.evaluate import stream_predictions  # local: the inference layer loads the models' code

    p = step.params
    evaluator = stream_predictions(inside_run_dir(run_dir, p["predictions"]), open_dataset(run_dir, p["data"]),
                                   batch_size=p["batch_size"])
    table, replicates = evaluator.results(), evaluator.bootstrap(key=f"{p['dataset']}/seed{p['seed']}")
    _write_metrics(run_dir, p, table, replicates)


def _write_metrics(run_dir: Path, p: Mapping[str, Any], table: pd.DataFrame, replicates: pd.DataFrame) -> None:
    """Write a metrics step's table (``p["out"]``, and its CSV) and replicates (``<name>.bootstrap.parquet``), with
    the dataset, seed, au and eu of ``p`` in front."""
    for frame in (table, replicates):
        for i, column in enumerate(("dataset", "seed", "au", "eu")):
            frame.insert(i, column, p[column])
    out = inside_run_dir(run_dir, p["out"])
    buffer = io.BytesIO()
    replicates.to_parquet(buffer, index=False)
    write_bytes_atomic(replicates_path(out), buffer.getvalue())  # before the table, whose presence marks the step done
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    write_bytes_atomic(out, buffer.getvalue())
    write_text_atomic(out.with_suffix(".csv"), table.to_csv(index=False))


def run_analysis(step: Step, run_dir: Path) -> None:
    """Evaluate one combination's predictions for one open-question analysis (``p["analysis"]``, docs/method.md
    "Open questions") into its rows and replicates beside the combination's metrics file, resampled like them."""
    from uqseg.inference.analyses import evaluate_analysis  # local: the inference layer loads the models' code

    p = step.params
    table, replicates = evaluate_analysis(
        inside_run_dir(run_dir, p["predictions"]), open_dataset(run_dir, p["data"]), p["analysis"],
        batch_size=p["batch_size"], key=f"{p['dataset']}/seed{p['seed']}", seed=p["seed"])
    _write_metrics(run_dir, p, table, replicates)


def run_results(step: Step, run_dir: Path) -> None:
    """Combine every combination's metrics into ``results.parquet`` and ``results.csv`` with 95 % bootstrap
    intervals, and their replicates into ``bootstrap.parquet`` (docs/method.md §3)."""
    paths = [inside_run_dir(run_dir, path) for path in step.params["metrics"]]
    replicates = combine_replicates(replicates_path(path) for path in paths)
    write_results(with_intervals(combine_metrics(paths), replicates), run_dir, replicates=replicates)


def run_report(step: Step, run_dir: Path) -> None:
    """Build the HTML report of the run directory (``uqseg.report.build_report``); ``step.params["data"]`` maps each
    dataset to its data step's params, so the qualitative panels get the datasets as the benchmark opened them."""
    from uqseg.report import build_report  # local: matplotlib is heavy and only the report step needs it

    build_report(run_dir, datasets=report_datasets(run_dir, step.params.get("data", {})))
