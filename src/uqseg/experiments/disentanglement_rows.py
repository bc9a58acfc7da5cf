"""The disentanglement error's rows (docs/method.md "Disentanglement error"): per level the mean estimated AU and
EU over the ID test pixels, per seed the disentanglement error and its four correlations."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from uqseg.atomic import write_bytes_atomic, write_text_atomic
from uqseg.experiments.paths import inside_run_dir
from uqseg.experiments.steps import Step
from uqseg.metrics.disentanglement import Sweep, disentanglement_error, fraction_truth, level_correlation
from uqseg.vocabulary import ANALYSIS

DE_ANALYSIS, DE_TASK = "disentanglement", "DISENT"
ALEATORIC, EPISTEMIC = "aleatoric", "epistemic"
CORRELATIONS = {"AU~U_a": "au_vs_true_au", "EU~U_e": "eu_vs_true_eu", "AU~U_e": "au_vs_true_eu",
                "EU~U_a": "eu_vs_true_au"}
BLOCK = 64


def level_label(sweep: str, level: float) -> str:
    """The ``analysis`` of a level's mean rows: ``disentanglement:<sweep>:<level>`` (ambiguity or fraction)."""
    return f"{DE_ANALYSIS}:{sweep}:{level:g}"


def mean_maps(path: Path) -> tuple[float, float]:
    """Mean AU and mean EU over every pixel of a predictions file, read a block of images at a time."""
    sums, count = np.zeros(2), 0
    with h5py.File(path, "r") as f:
        n = f["au"].shape[0]
        for start in range(0, n, BLOCK):
            for i, name in enumerate(("au", "eu")):
                sums[i] += float(np.asarray(f[name][start:start + BLOCK], dtype=np.float64).sum())
            count += int(np.prod(f["au"][start:start + BLOCK].shape))
    return float(sums[0] / count), float(sums[1] / count)


def _row(keys: Mapping[str, Any], analysis: str, measure: str, metric: str, value: float,
         status: str = "ok") -> dict[str, Any]:
    return {**keys, ANALYSIS: analysis, "split": "test", "task": DE_TASK, "measure": measure, "metric": metric,
            "aggregation": "pixel", "value": value, "status": status}


def _sweep(means: pd.DataFrame, sweep: str) -> pd.DataFrame:
    return means[means.sweep == sweep].sort_values("level")


def seed_rows(keys: Mapping[str, Any], means: pd.DataFrame, method: str, no_aleatoric: str = "") -> list[dict]:
    """The rows of one seed: AU and EU means per level, and the disentanglement error with its four correlations
    (docs/method.md "Disentanglement error"); without an aleatoric sweep, the epistemic sweep's two correlations and
    DE NaN with the reason ``no_aleatoric``."""
    rows = [_row(keys, level_label(r.sweep, r.level), measure, "mean", value)
            for r in means.itertuples() for measure, value in (("AU", r.au), ("EU", r.eu))]
    epi = _sweep(means, EPISTEMIC)
    truth_e = fraction_truth(epi.level.to_numpy())
    epistemic = Sweep(truth_e, epi.au.to_numpy(), epi.eu.to_numpy())
    ale = _sweep(means, ALEATORIC)
    if len(ale) < 2:
        reason = f"undefined: no aleatoric sweep ({no_aleatoric or 'fewer than two ambiguity levels'})"
        rows.append(_row(keys, DE_ANALYSIS, "DE", "disentanglement_error", np.nan, reason))
        values = {"EU~U_e": level_correlation(epistemic.eu, truth_e, method)[0],
                  "AU~U_e": level_correlation(epistemic.au, truth_e, method)[0]}
        rows += [_row(keys, DE_ANALYSIS, m, method, float(values[m]) if m in values else np.nan,
                      "ok" if m in values else reason) for m in CORRELATIONS]
        return rows
    result = disentanglement_error(Sweep(ale.level.to_numpy(), ale.au.to_numpy(), ale.eu.to_numpy()), epistemic,
                                   method=method)  # type: ignore[arg-type]
    rows.append(_row(keys, DE_ANALYSIS, "DE", "disentanglement_error", result.de))
    rows += [_row(keys, DE_ANALYSIS, measure, method, getattr(result, name)) for measure, name in CORRELATIONS.items()]
    return rows


def disentanglement_table(dataset: str, au: str, eu: str, means: pd.DataFrame, method: str,
                          no_aleatoric: str = "") -> pd.DataFrame:
    """Every seed's rows of one combination on one dataset from ``means`` (columns seed, sweep, level, au, eu)."""
    rows: list[dict] = []
    for seed, group in means.groupby("seed", sort=True):
        keys = {"dataset": dataset, "seed": int(seed), "au": au, "eu": eu}
        rows += seed_rows(keys, group, method, no_aleatoric)
    return pd.DataFrame(rows)


def level_means(run_dir: Path, levels: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Mean AU and EU over the ID test pixels of each level's predictions file."""
    records = []
    for level in levels:
        au, eu = mean_maps(inside_run_dir(run_dir, level["file"]))
        records.append({"seed": level["seed"], "sweep": level["sweep"], "level": float(level["level"]), "au": au,
                        "eu": eu})
    return pd.DataFrame(records)


def run_disentanglement(step: Step, run_dir: Path) -> None:
    """Write one combination's disentanglement rows on one dataset (and their CSV) from its levels' predictions."""
    p = step.params
    table = disentanglement_table(p["dataset"], p["au"], p["eu"], level_means(run_dir, p["levels"]),
                                  p["correlation"], p["no_aleatoric"])
    out = inside_run_dir(run_dir, p["out"])
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    write_bytes_atomic(out, buffer.getvalue())
    write_text_atomic(out.with_suffix(".csv"), table.to_csv(index=False))
