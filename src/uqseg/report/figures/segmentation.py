"""Appendix: segmentation quality (Dice, GED) against each task's performance — is GED a proxy for UQ quality?"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from uqseg.report.figures.style import combo_legend, hidden, new_figure, save, scatter_combos
from uqseg.vocabulary import TASKS

PERFORMANCE = {"OODD": "EU AUROC (OOD), ↑ better", "AMB": "AU NCC (ID test), ↑ better",
               "CAL": "TU ACE (ID test), ↓ better"}
QUALITY = (("dice", "Dice (ID test), ↑ better"), ("ged_dice", "GED, 1 − Dice (as the authors) (ID test), ↓ better"))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ over the pairs where both values are finite; NaN with fewer than 3 pairs or a constant side."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan")
    return float(spearmanr(x[ok], y[ok]).statistic)


def plot_segmentation(seg: pd.DataFrame, out_dir: Path, name: str = "figA_segmentation_vs_tasks") -> Path:
    """Rows = dataset × (Dice, GED), columns = tasks; one point per combination (mean over seeds), Spearman ρ in each
    title. `seg` is a `segmentation_vs_performance` table."""
    cols = ["performance", "dice", "ged_dice"]
    pts = seg.groupby(["dataset", "au", "eu", "task"], sort=False)[cols].mean().reset_index()
    datasets = sorted(set(pts.dataset)) or ["(no data)"]
    rows = [(d, q) for d in datasets for q in QUALITY]
    fig, axes = new_figure(len(rows), len(TASKS), 11.0, 2.9 * len(rows) + 0.8)
    for i, (dataset, (quality, qlabel)) in enumerate(rows):
        for j, task in enumerate(TASKS):
            ax = axes[i, j]
            sel = pts[(pts.dataset == dataset) & (pts.task == task)]
            x, y = sel[quality].to_numpy(dtype=float), sel.performance.to_numpy(dtype=float)
            if not (np.isfinite(x) & np.isfinite(y)).any():
                ax.set_axis_off()
                ax.set_title(f"{dataset}, {task}: no data")
                continue
            scatter_combos(ax, sel, quality, "performance")
            ax.set_xlabel(qlabel)
            ax.set_ylabel(PERFORMANCE[task])
            rho = f"{spearman(x, y):.2f}".replace("nan", "n/a")
            ax.set_title(f"{dataset}, {task}: Spearman ρ = {rho}{hidden(sel[[quality, 'performance']])}")
    combo_legend(fig, list(dict.fromkeys(pts.au)), list(dict.fromkeys(pts.eu)))
    return save(fig, out_dir, name)
