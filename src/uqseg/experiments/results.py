"""The benchmark's results table (issue 6 "Results"; docs/conventions.md "Tidy results").

``RUN_DIR/results.parquet`` (and ``results.csv``) holds one row per (dataset, seed, au, eu, split, task, measure,
metric, aggregation) with its ``value`` and ``status``. Everything else is derived from that file alone:

    >>> from uqseg.experiments.results import load_results, id_dice
    >>> from uqseg.report.tables import delta_table, rank_table
    >>> results = load_results("runs/quick")          # the run directory or the file itself
    >>> dice = id_dice(results)                      # ID-test Dice per combination
    >>> deltas = delta_table(results)                # Δ per combination, task and split group (SPEC §2)
    >>> ranks = rank_table(results)                  # performance ranks (SPEC §3 Ranking, paper Table 2)
    >>> entangled = rank_table(results, "entanglement")  # Δ ranks
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from uqseg.atomic import write_bytes_atomic, write_text_atomic
from uqseg.errors import InputError, NumericalError
from uqseg.experiments.paths import RESULTS_CSV, RESULTS_PARQUET

KEYS = ("dataset", "seed", "au", "eu")
ROW_COLUMNS = ("split", "task", "measure", "metric", "aggregation")
RESULT_COLUMNS = (*KEYS, *ROW_COLUMNS, "value", "status")


def check_results(table: pd.DataFrame, source: str = "results") -> pd.DataFrame:
    """The table with exactly the result columns in order, ``seed`` int and ``value`` float; else InputError."""
    missing = [c for c in RESULT_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{source} lacks columns {missing}; expected {list(RESULT_COLUMNS)}")
    out = table.loc[:, list(RESULT_COLUMNS)].copy()
    try:
        out["seed"] = out["seed"].astype(np.int64)
        out["value"] = out["value"].astype(np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{source}: seed must be integer and value numeric ({err})") from None
    for column in (*KEYS[2:], *ROW_COLUMNS, "status"):
        out[column] = out[column].astype(str)
    out["dataset"] = out["dataset"].astype(str)
    return out


def sort_results(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in a canonical order (by every key column), so equal studies give equal files."""
    return table.sort_values([*KEYS, *ROW_COLUMNS], kind="stable").reset_index(drop=True)


def combine_metrics(paths: Iterable[Path]) -> pd.DataFrame:
    """One results table from per-combination metrics files (``metrics/<dataset>/seed<s>/<au>+<eu>.parquet``)."""
    frames = []
    for path in paths:
        try:
            frames.append(check_results(pd.read_parquet(path), source=str(path)))
        except (OSError, ValueError) as err:
            if isinstance(err, InputError):
                raise
            raise InputError(f"cannot read metrics file {path}: {err}") from None
    if not frames:
        raise InputError("no metrics files to combine")
    return sort_results(pd.concat(frames, ignore_index=True))


def check_statuses(table: pd.DataFrame) -> None:
    """NumericalError naming the rows whose value is NaN or inf with status ``ok`` (issue 10: no silent NaN)."""
    silent = table[~np.isfinite(table["value"].to_numpy(np.float64)) & (table["status"] == "ok")]
    if len(silent):
        rows = silent.loc[:, [*KEYS, *ROW_COLUMNS]].head(3).to_dict("records")
        raise NumericalError(f"{len(silent)} results are NaN or inf with status 'ok', e.g. {rows}")


def write_results(table: pd.DataFrame, run_dir: Path) -> Path:
    """Write ``RUN_DIR/results.parquet`` and ``results.csv`` atomically; return the parquet path.

    Refuses (NumericalError) a table in which a NaN or inf value has no status saying why."""
    table = sort_results(check_results(table))
    check_statuses(table)
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    path = write_bytes_atomic(Path(run_dir) / RESULTS_PARQUET, buffer.getvalue())
    write_text_atomic(Path(run_dir) / RESULTS_CSV, table.to_csv(index=False))
    return path


def load_results(path: Path | str) -> pd.DataFrame:
    """The results table from a run directory, a ``results.parquet`` or a ``results.csv`` file."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_PARQUET
    if not path.is_file():
        raise InputError(f"results file {path} does not exist")
    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=["NaN", "nan", ""]) if path.suffix == ".csv" \
            else pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read results file {path}: {err}") from None
    return check_results(table, source=str(path))


def id_dice(results: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """The Dice on ``split`` (the ID test by default) per dataset, seed and combination (SPEC §3 Segmentation)."""
    results = check_results(results)
    rows = results[(results.task == "SEG") & (results.metric == "dice") & (results.split == split)]
    return rows.loc[:, [*KEYS, "value"]].rename(columns={"value": "dice"}).reset_index(drop=True)
