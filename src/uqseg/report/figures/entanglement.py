"""Fig. 7: every combination in entanglement coordinates (x = wrong measure, y = correct measure), per task."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from uqseg.metrics.bootstrap import percentile_interval
from uqseg.report.figures.style import combo_legend, hidden, new_figure, save, scatter_combos
from uqseg.report.frames import seed_mean
from uqseg.report.tables import Derived

PANELS = (("OODD", "OOD"), ("AMB", "ID"), ("AMB", "OOD"), ("CAL", "ID"), ("CAL", "OOD"))
AXES = {
    "OODD": ("AU AUROC (wrong)", "EU AUROC (correct)", "↑ better"),
    "AMB": ("EU NCC (wrong)", "AU NCC (correct)", "↑ better"),
    "CAL": ("min(AU, EU) ACE (wrong)", "TU ACE (correct)", "↓ better"),
}
SHADE = "#2ca02c"
#: Panels per figure row: three keep each panel about 3.4 in wide, so the PNG (150 dpi) shows at a readable size in
#: a normal browser window (the report is at most 1200 px wide) instead of shrinking five panels into one row.
COLUMNS = 3
PANEL_INCHES = 3.4
MARKER_AREA = 64
TITLES = {"OODD": "OOD detection", "AMB": "Ambiguity", "CAL": "Calibration"}


def _limits(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    v = np.r_[x, y]
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    pad = max(0.08 * (hi - lo), 0.01)
    return lo - pad, hi + pad


def draw_panel(ax: Axes, points: pd.DataFrame, task: str, group: str, dataset: str) -> None:
    """One scatter: the diagonal, the half where the correct measure is better shaded (there Δ > 0 when both values
    are ≥ 0; a negative NCC moves Δ out of [−1, 1], docs/method.md §2), one point per combination."""
    lo, hi = _limits(points.u_wrong.to_numpy(), points.u_correct.to_numpy())
    lower = task == "CAL"
    tri_x, tri_y = ([lo, hi, hi], [lo, lo, hi]) if lower else ([lo, lo, hi], [lo, hi, hi])
    ax.fill(tri_x, tri_y, color=SHADE, alpha=0.08, lw=0)
    ax.plot([lo, hi], [lo, hi], color="#555555", lw=1, ls="--", zorder=1)
    if {"u_wrong_low", "u_correct_low"} <= set(points.columns):
        x, y = points.u_wrong.to_numpy(float), points.u_correct.to_numpy(float)
        xerr = np.abs(np.stack([x - points.u_wrong_low.to_numpy(float), points.u_wrong_high.to_numpy(float) - x]))
        yerr = np.abs(np.stack([y - points.u_correct_low.to_numpy(float),
                                points.u_correct_high.to_numpy(float) - y]))
        ax.errorbar(x, y, xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr), fmt="none", ecolor="#999999",
                    elinewidth=0.7, capsize=0, zorder=1.5)
    scatter_combos(ax, points, "u_wrong", "u_correct", size=MARKER_AREA)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(nbins=4))
    xl, yl, better = AXES[task]
    ax.set_xlabel(f"{xl}, {better}")
    ax.set_ylabel(f"{yl}, {better}")
    where = "OOD splits, mean" if group == "OOD" else "ID test"
    note = hidden(points[["u_wrong", "u_correct"]]).strip()
    ax.set_title("\n".join(t for t in (dataset, f"{TITLES[task]} ({where})", note) if t))


def seed_mean_intervals(derived: Derived, keys: list[str]) -> pd.DataFrame:
    """Per group of `keys`: u_wrong and u_correct averaged over seeds, with 95 % bootstrap intervals of that mean
    (each replicate averaged over the seeds alike, docs/method.md §3)."""
    f = derived.frame.reset_index(drop=True)
    rows = []
    for k, g in f.groupby(keys, sort=False):
        idx = g.index.to_numpy()
        row = dict(zip(keys, k, strict=True))
        for name, mat in (("u_wrong", derived.wrong), ("u_correct", derived.correct)):
            m = mat[idx].mean(0)
            low, high = percentile_interval(m[None, 1:])
            row.update({name: m[0], f"{name}_low": low[0], f"{name}_high": high[0]})
        rows.append(row)
    return pd.DataFrame(rows, columns=[*keys, "u_wrong", "u_wrong_low", "u_wrong_high", "u_correct", "u_correct_low",
                                       "u_correct_high"])


def plot_entanglement(deltas: pd.DataFrame, out_dir: Path, name: str = "fig7_entanglement",
                      derived: Derived | None = None) -> Path:
    """Fig. 7 (paper §4): rows = datasets, columns = task and split group; points are means over seeds, with 95 %
    bootstrap error bars over the test images when `derived` carries replicates.

    Points below the diagonal (above it for ACE, where lower is better) are combinations whose wrong measure beats
    the correct one (Δ < 0, entangled).
    """
    keys = ["dataset", "au", "eu", "task", "group"]
    if derived is not None and derived.correct.shape[1] > 1:
        pts = seed_mean_intervals(derived, keys)
    else:
        pts = seed_mean(deltas, keys, ["u_wrong", "u_correct"])
    datasets = sorted(set(pts.dataset)) or ["(no data)"]
    per = -(-(len(PANELS) + 1) // COLUMNS)  # figure rows per dataset, one slot left for the legend
    fig, axes = new_figure(per * len(datasets), COLUMNS, PANEL_INCHES * COLUMNS,
                           (PANEL_INCHES + 0.5) * per * len(datasets))
    for i, dataset in enumerate(datasets):
        for k, (task, group) in enumerate(PANELS):
            ax = axes[per * i + k // COLUMNS, k % COLUMNS]
            sel = pts[(pts.dataset == dataset) & (pts.task == task) & (pts.group == group)]
            if sel.empty:
                ax.set_axis_off()
                ax.set_title(f"{dataset}\n{TITLES[task]} ({group}): no data")
                continue
            draw_panel(ax, sel, task, group, dataset)
        for k in range(len(PANELS) + (i == 0), per * COLUMNS):
            axes[per * i + k // COLUMNS, k % COLUMNS].set_axis_off()
    shade = Patch(color=SHADE, alpha=0.2, label="correct measure better\n(Δ > 0 when both values ≥ 0)")
    combo_legend(fig, list(dict.fromkeys(pts.au)), list(dict.fromkeys(pts.eu)), extra=[shade],
                 ax=axes[(len(PANELS)) // COLUMNS, len(PANELS) % COLUMNS])
    return save(fig, out_dir, name)
