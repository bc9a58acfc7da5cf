"""One AU+EU combination end to end: train what is missing, predict every evaluated split, evaluate, write the
tidy metrics (paths per docs/conventions.md "Run directory")."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from uqseg.atomic import write_bytes_atomic, write_text_atomic
from uqseg.data.contract import Dataset
from uqseg.inference.config import InferenceConfig
from uqseg.inference.evaluate import evaluate_predictions, evaluated_splits, prediction_path
from uqseg.inference.predict import load_method, predict_split
from uqseg.inference.store import is_complete, read_attrs
from uqseg.training.checkpoint import ModelFactory
from uqseg.training.config import TrainConfig


def predictions_dir(root: Path, dataset: str, seed: int, au: str, eu: str) -> Path:
    """``root/predictions/<dataset>/seed<s>/<au>+<eu>``."""
    return Path(root) / "predictions" / dataset / f"seed{seed}" / f"{au}+{eu}"


def metrics_path(root: Path, dataset: str, seed: int, au: str, eu: str) -> Path:
    """``root/metrics/<dataset>/seed<s>/<au>+<eu>.parquet`` (a .csv twin sits beside it)."""
    return Path(root) / "metrics" / dataset / f"seed{seed}" / f"{au}+{eu}.parquet"


def write_table(table: pd.DataFrame, path: Path) -> Path:
    """Write ``table`` as parquet at ``path`` and as CSV beside it, each atomically."""
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    write_bytes_atomic(path, buffer.getvalue())
    write_text_atomic(Path(path).with_suffix(".csv"), table.to_csv(index=False))
    return Path(path)


def evaluate_combination(
    au: str,
    eu: str,
    *,
    dataset: str,
    dataset_options: Mapping[str, Any],
    model: Any,
    train: TrainConfig,
    inference: InferenceConfig,
    root: Path,
    seed: int = 0,
    progress: bool = True,
    model_factory: ModelFactory | None = None,
    data: Dataset | None = None,
) -> pd.DataFrame:
    """Train (if needed), predict (splits whose file is complete are kept) and evaluate ``au+eu``; write and return
    the tidy table with ``dataset, seed, au, eu`` in front."""
    from uqseg.data import get_dataset
    from uqseg.training.runner import train_combination

    if data is None:
        data = get_dataset(dataset, **dict(dataset_options))
    done = train_combination(
        au, eu, dataset=dataset, dataset_options=dataset_options, model=model, train=train, root=root, seed=seed,
        ensemble_size=inference.ensemble_size, progress=progress, model_factory=model_factory, data=data,
    )
    out = predictions_dir(root, dataset, seed, au, eu)
    method = None
    for name in evaluated_splits(data):
        path = prediction_path(out, name)
        if is_complete(path) and read_attrs(path).get("config") == inference.model_dump_json():
            continue
        if method is None:
            method = load_method(au, eu, [p for _, p in done], [r for r, _ in done], inference,
                                 model_factory=model_factory)
        predict_split(au, eu, method, data.split(name), path, inference)
    table = evaluate_predictions(out, data)
    for i, (column, value) in enumerate((("dataset", dataset), ("seed", seed), ("au", au), ("eu", eu))):
        table.insert(i, column, value)
    write_table(table, metrics_path(root, dataset, seed, au, eu))
    return table
