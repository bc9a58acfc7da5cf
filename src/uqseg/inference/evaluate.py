"""Evaluate one combination's stored predictions against its dataset (docs/method.md §3; vectorised evaluation).

Each split's predictions file is read once, in chunks, validation first (it fits the Platt calibration and the
OOD threshold τ), then the ID test split and the OOD splits. Chunks are joined with the dataset's annotations
(and oracle) and streamed into ``uqseg.metrics.Evaluator``. Maps are checked for NaN/inf before any metric.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from uqseg.data.contract import Dataset, Split
from uqseg.errors import InputError, NumericalError
from uqseg.metrics import Evaluator
from uqseg.store import IMAGE_SCORES, MAP_NAMES, read_attrs

VALIDATION = "val"
ID_TEST = "test"


def prediction_path(pred_dir: Path, split: str) -> Path:
    """Where split ``split``'s predictions live in a combination's predictions folder."""
    return Path(pred_dir) / f"{split}.h5"


def evaluated_splits(dataset: Dataset) -> list[str]:
    """The splits a combination is predicted and evaluated on, validation first: val, test, then the OOD splits."""
    return [VALIDATION, ID_TEST, *dataset.info.ood_splits]


def _check_alignment(f: h5py.File, path: Path, split: Split, num_classes: int) -> None:
    n, h, w = len(split), *(int(v) for v in split.annotations.shape[-2:])
    for name in MAP_NAMES:
        if f[name].shape != (n, h, w):
            raise InputError(f"predictions file {path}: {name} has shape {f[name].shape}, but split {split.name!r} "
                             f"has {n} images of {h}×{w}")
    if f["mean"].shape != (n, num_classes, h, w):
        raise InputError(f"predictions file {path}: mean has shape {f['mean'].shape}, expected "
                         f"{(n, num_classes, h, w)}")
    if f["pred"].shape != (n, h, w):
        raise InputError(f"predictions file {path}: pred has shape {f['pred'].shape}, expected {(n, h, w)}")
    for name in IMAGE_SCORES:
        if name not in f:
            raise InputError(f"predictions file {path} lacks the per-image {name!r} (written by an older uqseg); "
                             "predict again")
        if f[name].shape != (n,):
            raise InputError(f"predictions file {path}: {name} has shape {f[name].shape}, expected {(n,)}")


def _read_chunk(f: h5py.File, path: Path, split: Split, start: int, stop: int, num_classes: int) -> dict:
    batch: dict[str, np.ndarray] = {
        name: f[name][start:stop].astype(np.float32, copy=False) for name in (*MAP_NAMES, "mean")
    }
    for name, value in batch.items():
        bad = ~np.isfinite(value)
        if bad.any():
            index = start + int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(1))[0])
            raise NumericalError(f"{f.attrs.get('au')}+{f.attrs.get('eu')} split {split.name!r}: non-finite {name} "
                                 f"in {path} at image index {index}")
    pred = f["pred"][start:stop].astype(np.int64)
    if pred.size and pred.max() >= num_classes:
        raise InputError(f"predictions file {path}: pred holds labels outside [0, {num_classes - 1}]")
    batch["pred"] = pred  # the argmax of the float32 mean, not of the stored float16 mean
    for name in IMAGE_SCORES:
        batch[name] = f[name][start:stop].astype(np.float64)
    batch["annotations"] = np.asarray(split.annotations[start:stop], dtype=np.int64)
    if split.oracle is not None:
        batch["oracle"] = np.asarray(split.oracle[start:stop], dtype=np.float32)
    return batch


def evaluate_predictions(pred_dir: Path, dataset: Dataset, *, batch_size: int = 64) -> pd.DataFrame:
    """The tidy metrics table (docs/conventions.md "Tidy results") of the predictions in ``pred_dir``."""
    return stream_predictions(pred_dir, dataset, batch_size=batch_size).results()


def stream_predictions(pred_dir: Path, dataset: Dataset, *, batch_size: int = 64,
                       sources: Mapping[str, Path] | None = None) -> Evaluator:
    """The Evaluator after streaming every split's predictions in ``pred_dir`` (its ``results()`` is the table of
    ``evaluate_predictions``; its ``bootstrap()`` gives the replicates of the intervals, docs/method.md §3).
    ``sources`` names the file of a split stored elsewhere (a sweep's shifted splits reuse the study's validation
    and ID test predictions, docs/method.md "Entanglement versus shift severity, model size and training").

    Raises InputError naming the file when a predictions file is missing, incomplete or does not align with the
    dataset (N, C, H, W), and NumericalError naming combination, split and image when a map holds NaN/inf.
    """
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    num_classes = dataset.info.num_classes
    evaluator = Evaluator(num_classes, ood_splits=dataset.info.ood_splits, id_split=ID_TEST)
    for name in evaluated_splits(dataset):
        path = Path((sources or {}).get(name) or prediction_path(pred_dir, name))
        read_attrs(path)
        split = dataset.split(name)
        with h5py.File(path, "r") as f:
            _check_alignment(f, path, split, num_classes)
            for start in range(0, len(split), batch_size):
                batch = _read_chunk(f, path, split, start, min(start + batch_size, len(split)), num_classes)
                if name == VALIDATION:
                    evaluator.add_validation(batch)
                else:
                    evaluator.add(name, batch)
    return evaluator


def split_batches(path: Path, split: Split, num_classes: int, *, batch_size: int = 64) -> Iterator[dict]:
    """The checked batches (a mapping of ``EvalBatch`` fields) of one split's predictions file ``path``, in image
    order, as ``stream_predictions`` reads them: for an analysis that streams the predictions on its own
    (docs/method.md "Open questions"). Raises as ``stream_predictions``."""
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    read_attrs(path)
    with h5py.File(path, "r") as f:
        _check_alignment(f, path, split, num_classes)
        for start in range(0, len(split), batch_size):
            yield _read_chunk(f, path, split, start, min(start + batch_size, len(split)), num_classes)
