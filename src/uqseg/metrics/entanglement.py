"""Entanglement Δ (docs/method.md §2, paper Eq. 2) and its task table applied to a tidy results table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from uqseg.errors import InputError

#: Status of a Δ whose inputs are both 0: a tie, Δ = 0 (docs/method.md §2).
ORIGIN_TIE = "ok: tie at the origin"
UNDEFINED = "undefined: missing or NaN input"


def entanglement(correct: Any, wrong: Any, lower_is_better: bool = False) -> Any:
    """Δ = s·(atan2(U_c, U_w) − π/4)/(π/4), s = −1 when lower is better (docs/method.md §2).

    Scalars give a float, arrays an array (broadcast). Δ = 0 where both values are 0 (a tie at the origin, like any
    U_c = U_w). Δ lies outside [−1, 1] exactly where an input is negative (e.g. a negative NCC), so
    ``(correct < 0) | (wrong < 0)`` is the mask of such values. Non-finite inputs raise InputError.
    """
    c, w = np.asarray(correct, dtype=np.float64), np.asarray(wrong, dtype=np.float64)
    if not (np.isfinite(c).all() and np.isfinite(w).all()):
        shown = f"correct={correct}, wrong={wrong}" if c.ndim == w.ndim == 0 else "NaN or inf in correct or wrong"
        raise InputError(f"entanglement needs finite values, got {shown}")
    d = entanglement_values(c, w, lower_is_better)
    return float(d) if d.ndim == 0 else d


def entanglement_values(correct: Any, wrong: Any, lower_is_better: Any = False) -> np.ndarray:
    """Δ of Eq. 2 elementwise over arrays (docs/method.md §2), broadcasting; 0 where both inputs are 0 (a tie at
    the origin); NaN where an input is NaN, so bootstrap replicates go through the same formula as the point
    estimate."""
    c, w = np.asarray(correct, dtype=np.float64), np.asarray(wrong, dtype=np.float64)
    s = np.where(np.asarray(lower_is_better, dtype=bool), -1.0, 1.0)
    d = s * (np.arctan2(c, w) - np.pi / 4) / (np.pi / 4)
    return np.where((c == 0) & (w == 0), 0.0, d)


def entanglement_status(correct: Any, wrong: Any) -> Any:
    """Status of each Δ (docs/method.md §2): ``ok``, ORIGIN_TIE where both inputs are 0, or why Δ is NaN."""
    c, w = np.asarray(correct, dtype=np.float64), np.asarray(wrong, dtype=np.float64)
    out = np.where(np.isfinite(c) & np.isfinite(w), np.where((c == 0) & (w == 0), ORIGIN_TIE, "ok"), UNDEFINED)
    return str(out) if out.ndim == 0 else out


def _row(task: str, split: str, metric: str, agg: str, uc: float, uw: float, lower: bool, wrong: str) -> dict:
    d = float(entanglement_values(uc, uw, lower))
    return {
        "split": split, "task": task, "metric": metric, "aggregation": agg, "u_correct": uc, "u_wrong": uw,
        "wrong_measure": wrong, "delta": d, "out_of_range": bool(np.isfinite(d) and abs(d) > 1),
        "status": entanglement_status(uc, uw),
    }


def task_entanglement(table: pd.DataFrame) -> pd.DataFrame:
    """Δ rows for one combination's tidy table (docs/method.md §2 task table).

    OODD: per aggregation, AUROC averaged over OOD splits first (split "ood-mean"), EU correct vs AU wrong.
    AMB: NCC per split, AU vs EU. CAL: per split and ACE variant, TU vs min(AU, EU) with s = −1.
    """
    need = {"split", "task", "measure", "metric", "aggregation", "value"}
    if not need <= set(table.columns):
        raise InputError(f"table lacks columns {sorted(need - set(table.columns))}")
    rows = []
    o = table[(table.task == "OODD") & (table.metric == "auroc")]
    for agg, g in o.groupby("aggregation", sort=False):
        m = g.groupby("measure")["value"].mean()
        rows.append(_row("OODD", "ood-mean", "auroc", agg, m.get("EU", np.nan), m.get("AU", np.nan), False, "AU"))
    a = table[(table.task == "AMB") & (table.metric == "ncc")]
    for split, g in a.groupby("split", sort=False):
        m = g.set_index("measure")["value"]
        rows.append(_row("AMB", split, "ncc", "none", m.get("AU", np.nan),
                         m.get("EU", np.nan), False, "EU"))
    c = table[(table.task == "CAL") & table.metric.isin(["ace_global", "ace_image"])]
    for (split, metric), g in c.groupby(["split", "metric"], sort=False):
        m = g.set_index("measure")["value"]
        au, eu = m.get("AU", np.nan), m.get("EU", np.nan)
        wrong, uw = ("AU", au) if not (eu < au) else ("EU", eu)
        rows.append(_row("CAL", split, metric, "none", m.get("TU", np.nan), uw, True, wrong))
    return pd.DataFrame(rows)
