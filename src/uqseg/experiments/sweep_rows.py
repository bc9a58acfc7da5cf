"""A sweep level's metrics file: the study's evaluation, restricted to the level's splits and labelled with its
``analysis`` (docs/method.md "Open questions")."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from uqseg.atomic import write_bytes_atomic, write_text_atomic
from uqseg.experiments.paths import inside_run_dir
from uqseg.experiments.stepfns import open_dataset
from uqseg.inference.evaluate import stream_predictions
from uqseg.layout import replicates_path
from uqseg.vocabulary import ANALYSIS, KEYS

SIZE_TASK, SIZE_METRIC = "SIZE", "parameters"
EPOCH_TASK, POSTERIOR_METRIC = "EPOCH", "swag_posterior"


def labelled(table: pd.DataFrame, labels: Mapping[str, str], keys: Mapping[str, Any]) -> pd.DataFrame:
    """The rows of ``table`` whose split is in ``labels``, with the key columns ``keys`` in front and the split's
    label in the ``analysis`` column."""
    rows = table[table["split"].isin(list(labels))].reset_index(drop=True)
    rows = rows.drop(columns=[c for c in (*KEYS, ANALYSIS) if c in rows.columns])
    for i, column in enumerate(KEYS):
        rows.insert(i, column, keys[column])
    rows.insert(len(KEYS), ANALYSIS, rows["split"].map(dict(labels)))
    return rows


def size_row(keys: Mapping[str, Any], analysis: str, parameters: int) -> pd.DataFrame:
    """The one ``SIZE`` row of a width level: one network's learnable parameters."""
    return pd.DataFrame([{**{k: keys[k] for k in KEYS}, ANALYSIS: analysis, "split": "test", "task": SIZE_TASK,
                          "measure": "pred", "metric": SIZE_METRIC, "aggregation": "none",
                          "value": float(parameters), "status": "ok"}])


def _write(frame: pd.DataFrame, path: Path) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    write_bytes_atomic(path, buffer.getvalue())


def evaluate_level(params: Mapping[str, Any], run_dir: Path) -> None:
    """Evaluate one combination at one sweep level (``params`` of a sweep metrics step) and write its labelled
    metrics and bootstrap replicates (replicates first; the table marks the step done)."""
    sources = {split: inside_run_dir(run_dir, path) for split, path in params["sources"].items()}
    dataset = open_dataset(run_dir, params["data"])
    evaluator = stream_predictions(inside_run_dir(run_dir, params["predictions"]), dataset,
                                   batch_size=params["batch_size"], sources=sources)
    keys = {k: params[k] for k in KEYS}
    labels = params["labels"]
    table = labelled(evaluator.results(), labels, keys)
    replicates = labelled(evaluator.bootstrap(key=f"{params['dataset']}/seed{params['seed']}"), labels, keys)
    if params.get("parameters") is not None:
        table = pd.concat([table, size_row(keys, next(iter(labels.values())), params["parameters"])],
                          ignore_index=True)
    out = inside_run_dir(run_dir, params["out"])
    _write(replicates, replicates_path(out))
    _write(table, out)
    write_text_atomic(out.with_suffix(".csv"), table.to_csv(index=False))


def write_no_posterior(params: Mapping[str, Any], run_dir: Path) -> None:
    """The one row of an epoch level without a SWAG posterior: task ``EPOCH``, metric ``swag_posterior``, value NaN
    and the reason as its status (docs/method.md "Entanglement versus shift severity, model size and training")."""
    row = {**{k: params[k] for k in KEYS}, ANALYSIS: params["analysis"], "split": "test", "task": EPOCH_TASK,
           "measure": "EU", "metric": POSTERIOR_METRIC, "aggregation": "none", "value": float("nan"),
           "status": params["status"]}
    table = pd.DataFrame([row])
    out = inside_run_dir(run_dir, params["out"])
    _write(table, out)
    write_text_atomic(out.with_suffix(".csv"), table.to_csv(index=False))


def predict_snapshot(params: Mapping[str, Any], run_dir: Path) -> None:
    """Predict one split (params of a sweep prediction step) with every run's snapshot after epoch
    ``params["snapshot"]`` in place of its final weights."""
    from uqseg.inference.predict import load_method, predict_split
    from uqseg.training.callbacks import snapshot_directory
    from uqseg.training.plan import run_directory

    runs, cfg = params["runs"], params["inference"]
    folders = [snapshot_directory(run_directory(run_dir, r), params["snapshot"]) for r in runs]
    method = load_method(params["au"], params["eu"], folders, runs, cfg)
    split = open_dataset(run_dir, params["data"]).split(params["split"])
    predict_split(params["au"], params["eu"], method, split, inside_run_dir(run_dir, params["out"]), cfg)
