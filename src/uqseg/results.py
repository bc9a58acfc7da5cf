"""The benchmark's results table (docs/conventions.md "Tidy results").

``RUN_DIR/results.parquet`` (and ``results.csv``) holds one row per (dataset, seed, au, eu, split, task, measure,
metric, aggregation) with its ``value``, the 95 % bootstrap interval ``ci_low``, ``ci_high`` (NaN where undefined or
not computed) and ``status``. ``RUN_DIR/bootstrap.parquet`` holds the same key columns and one float32 column per
bootstrap replicate (``b0`` …); derived quantities get their intervals by deriving each replicate alike
(docs/method.md §3). Everything else is derived from these files alone:

    >>> from uqseg.results import load_results, id_dice
    >>> from uqseg.report.tables import delta_table, rank_table
    >>> results = load_results("runs/quick")          # the run directory or the file itself
    >>> dice = id_dice(results)                      # ID-test Dice per combination
    >>> deltas = delta_table(results)                # Δ per combination, task and split group (docs/method.md §2)
    >>> ranks = rank_table(results)                  # performance ranks (docs/method.md §3 Ranking, paper Table 2)
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
from uqseg.layout import RunLayout
from uqseg.metrics.bootstrap import percentile_interval
from uqseg.vocabulary import (
    ANALYSIS,
    KEYS,
    MAIN_ANALYSIS,
    RESULT_COLUMNS,
    ROW_COLUMNS,
    SEGMENTATION_TASK,
    check_results,
    main_rows,
    with_analysis_column,
)

__all__ = ["RESULT_COLUMNS", "analysis_view", "check_results", "check_statuses", "combine_metrics",
           "combine_replicates", "id_dice", "load_replicates", "load_results", "replicate_columns",
           "replicate_matrix", "sort_results", "with_intervals", "write_results"]


def analysis_view(table: pd.DataFrame, analysis: str = MAIN_ANALYSIS) -> pd.DataFrame:
    """The study's own rows with those of ``analysis`` in place of the main rows they share a key with (dataset,
    seed, au, eu, split, task, measure, metric, aggregation), e.g. the rescaled TU and EU rows beside the unchanged
    AU rows (docs/method.md "Open questions"); the replaced rows keep their ``analysis`` label, so their bootstrap
    replicates still align. ``main`` gives the main rows alone. Δ and ranks of the view are those of the analysis."""
    table = check_results(table)
    main = main_rows(table)
    if analysis == MAIN_ANALYSIS:
        return main
    extra = table[table[ANALYSIS] == analysis]
    if extra.empty:
        raise InputError(f"the results hold no rows of analysis {analysis!r}")
    names = [*KEYS, *ROW_COLUMNS[1:]]
    replaced = pd.MultiIndex.from_frame(main.loc[:, names]).isin(pd.MultiIndex.from_frame(extra.loc[:, names]))
    return sort_results(pd.concat([main[~replaced], extra], ignore_index=True))


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
    """NumericalError naming the rows whose value is NaN or inf with status ``ok`` (no silent NaN)."""
    silent = table[~np.isfinite(table["value"].to_numpy(np.float64)) & (table["status"] == "ok")]
    if len(silent):
        rows = silent.loc[:, [*KEYS, *ROW_COLUMNS]].head(3).to_dict("records")
        raise NumericalError(f"{len(silent)} results are NaN or inf with status 'ok', e.g. {rows}")


def replicate_columns(replicates: pd.DataFrame) -> list[str]:
    """The replicate columns ``b0``, ``b1``, … of a replicates table, in order."""
    return [c for c in replicates.columns if c.startswith("b") and c[1:].isdigit()]


def combine_replicates(paths: Iterable[Path]) -> pd.DataFrame | None:
    """One replicates table from the per-combination ``*.bootstrap.parquet`` files that exist (a run evaluated
    before intervals existed has none: its rows get NaN intervals); None when there are none."""
    frames = []
    for path in paths:
        if not Path(path).is_file():
            continue
        try:
            frames.append(with_analysis_column(pd.read_parquet(path)))  # files without the column are ``main``
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read bootstrap replicates {path}: {err}") from None
    if not frames:
        return None
    width = {len(replicate_columns(f)) for f in frames}
    if len(width) != 1:
        raise InputError(f"bootstrap replicate files differ in their number of replicates: {sorted(width)}")
    return pd.concat(frames, ignore_index=True)


def replicate_matrix(table: pd.DataFrame, replicates: pd.DataFrame | None) -> np.ndarray:
    """The replicates aligned to the rows of ``table`` (rows × B float64); NaN rows where a row has none."""
    if replicates is None or replicates.empty:
        return np.full((len(table), 0), np.nan)
    names = [*KEYS, *ROW_COLUMNS]
    replicates = with_analysis_column(replicates)  # replicates written before the analyses are all ``main``
    missing = [c for c in names if c not in replicates.columns]
    if missing:
        raise InputError(f"bootstrap replicates lack columns {missing}")

    def index(df: pd.DataFrame) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(df.loc[:, names].astype(str))

    source = index(replicates)
    if source.has_duplicates:
        raise InputError("bootstrap replicates hold a result row twice")
    where = source.get_indexer(index(table))
    values = replicates.loc[:, replicate_columns(replicates)].to_numpy(np.float64)
    out = np.full((len(table), values.shape[1]), np.nan)
    out[where >= 0] = values[where[where >= 0]]
    return out


def with_intervals(table: pd.DataFrame, replicates: pd.DataFrame | None) -> pd.DataFrame:
    """The table with ``ci_low``, ``ci_high``: 95 % percentile bootstrap intervals of each row's replicates
    (docs/method.md §3); NaN where the value is NaN, a replicate is undefined or the row has no replicates."""
    table = check_results(table)
    matrix = replicate_matrix(table, replicates)
    low, high = percentile_interval(matrix)
    finite = np.isfinite(table["value"].to_numpy(np.float64))
    return table.assign(ci_low=np.where(finite, low, np.nan), ci_high=np.where(finite, high, np.nan))


def write_results(table: pd.DataFrame, run_dir: Path, replicates: pd.DataFrame | None = None) -> Path:
    """Write ``RUN_DIR/results.parquet`` and ``results.csv`` atomically, and the replicates aligned to the sorted
    rows as ``RUN_DIR/bootstrap.parquet`` (float32) when given; return the results parquet path.

    Refuses (NumericalError) a table in which a NaN or inf value has no status saying why."""
    table = sort_results(check_results(table))
    check_statuses(table)
    if replicates is not None:
        matrix = replicate_matrix(table, replicates).astype(np.float32)
        wide = pd.concat([table.loc[:, [*KEYS, *ROW_COLUMNS]],
                          pd.DataFrame(matrix, columns=[f"b{i}" for i in range(matrix.shape[1])])], axis=1)
        buffer = io.BytesIO()
        wide.to_parquet(buffer, index=False)
        write_bytes_atomic(RunLayout(run_dir).bootstrap, buffer.getvalue())
    else:
        RunLayout(run_dir).bootstrap.unlink(missing_ok=True)  # no stale replicates beside new results
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    path = write_bytes_atomic(RunLayout(run_dir).results, buffer.getvalue())
    write_text_atomic(RunLayout(run_dir).results_csv, table.to_csv(index=False))
    return path


def load_results(path: Path | str) -> pd.DataFrame:
    """The results table from a run directory, a ``results.parquet`` or a ``results.csv`` file."""
    path = Path(path)
    if path.is_dir():
        path = RunLayout(path).results
    if not path.is_file():
        raise InputError(f"results file {path} does not exist")
    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=["NaN", "nan", ""]) if path.suffix == ".csv" \
            else pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read results file {path}: {err}") from None
    return check_results(table, source=str(path))


def load_replicates(path: Path | str) -> pd.DataFrame | None:
    """``bootstrap.parquet`` of a run directory (or the file itself); None when the run has none."""
    path = Path(path)
    if path.is_dir():
        path = RunLayout(path).bootstrap
    if not path.is_file():
        return None
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read bootstrap replicates {path}: {err}") from None


def id_dice(results: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """The Dice on ``split`` (the ID test by default) per dataset, seed and combination (docs/method.md §3), from the
    study's own rows (``analysis == "main"``)."""
    results = main_rows(check_results(results))
    rows = results[(results.task == SEGMENTATION_TASK) & (results.metric == "dice") & (results.split == split)]
    return rows.loc[:, [*KEYS, "value"]].rename(columns={"value": "dice"}).reset_index(drop=True)
