"""Entanglement Δ (docs/method.md §2, paper Eq. 2) and its task table applied to a tidy results table."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from uqseg.errors import InputError
from uqseg.metrics.delta_rules import DELTA_RULES

#: Status of a Δ whose inputs are both 0: a tie, Δ = 0 (docs/method.md §2).
ORIGIN_TIE = "ok: tie at the origin"
UNDEFINED = "undefined: missing or NaN input"


class OutOfRangeWarning(UserWarning):
    """Δ outside [−1, 1]: an input is negative (e.g. a negative NCC), so the angle leaves the first quadrant."""


def entanglement(correct: Any, wrong: Any, lower_is_better: bool = False) -> Any:
    """Δ = s·(atan2(U_c, U_w) − π/4)/(π/4), s = −1 when lower is better (docs/method.md §2).

    Scalars give a float, arrays an array (NumPy broadcasting of ``correct``, ``wrong`` and ``lower_is_better``).
    Δ = 0 where both values are 0 (a tie at the origin, like any U_c = U_w). Δ lies outside [−1, 1] exactly where an
    input is negative (e.g. a negative NCC): such values are returned but flagged with an OutOfRangeWarning, and
    ``(correct < 0) | (wrong < 0)`` is their mask. Non-finite or non-numeric inputs, or shapes that do not
    broadcast, raise InputError.
    """
    try:
        c, w = np.asarray(correct, dtype=np.float64), np.asarray(wrong, dtype=np.float64)
        shape = np.broadcast_shapes(c.shape, w.shape, np.shape(lower_is_better))
    except (TypeError, ValueError) as err:
        raise InputError(f"entanglement needs numeric values of broadcastable shapes: {err}") from None
    if not (np.isfinite(c).all() and np.isfinite(w).all()):
        shown = f"correct={correct}, wrong={wrong}" if c.ndim == w.ndim == 0 else "NaN or inf in correct or wrong"
        raise InputError(f"entanglement needs finite values, got {shown}")
    d = np.broadcast_to(entanglement_values(c, w, lower_is_better), shape)
    outside = int(np.count_nonzero(np.abs(d) > 1))
    if outside:
        warnings.warn(f"{outside} of {d.size} Δ values lie outside [-1, 1] because an input is negative; Eq. 2 "
                      "assumes non-negative metric values", OutOfRangeWarning, stacklevel=2)
    return float(d) if d.ndim == 0 else d.copy()


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


def _row(task: str, split: str, metric: str, agg: str, uc: float, uw: float, wrong: str) -> dict:
    d = float(entanglement_values(uc, uw, DELTA_RULES[task].lower_is_better))
    return {
        "split": split, "task": task, "metric": metric, "aggregation": agg, "u_correct": uc, "u_wrong": uw,
        "wrong_measure": wrong, "delta": d, "out_of_range": bool(np.isfinite(d) and abs(d) > 1),
        "status": entanglement_status(uc, uw),
    }


def _values(g: pd.DataFrame, task: str) -> tuple[float, float, str]:
    """U_correct, U_wrong and the wrong measure's name from one split's measures, by the task's Δ rule."""
    rule = DELTA_RULES[task]
    m = g.groupby("measure")["value"].mean()
    per = {name: np.asarray(m.get(name, np.nan), dtype=np.float64) for name in (rule.correct, *rule.wrong)}
    uw, is_eu = rule.wrong_value(per)
    name = rule.wrong[0] if len(rule.wrong) == 1 else ("EU" if bool(is_eu) else "AU")
    return float(per[rule.correct]), float(uw), name


def task_entanglement(table: pd.DataFrame) -> pd.DataFrame:
    """Δ rows for one combination's tidy table, by the Δ rules of ``metrics.delta_rules`` (docs/method.md §2).

    OODD: per aggregation, AUROC averaged over OOD splits first (split "ood-mean"), EU correct vs AU wrong.
    AMB: NCC per split, AU vs EU. CAL: per split and ACE variant, TU vs min(AU, EU) with s = −1.
    """
    need = {"split", "task", "measure", "metric", "aggregation", "value"}
    if not need <= set(table.columns):
        raise InputError(f"table lacks columns {sorted(need - set(table.columns))}")
    rows = []
    for task, rule in DELTA_RULES.items():
        t = table[(table.task == task) & table.metric.isin(rule.metrics)]
        if rule.per_aggregation:
            for agg, g in t.groupby("aggregation", sort=False):
                rows.append(_row(task, "ood-mean", g.metric.iloc[0], agg, *_values(g, task)))
            continue
        for (split, metric), g in t.groupby(["split", "metric"], sort=False):
            rows.append(_row(task, split, metric, "none", *_values(g, task)))
    return pd.DataFrame(rows)
