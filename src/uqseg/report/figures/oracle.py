"""The oracle panel (synthetic data): NCC against the exact annotator variance vs against the K annotators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from uqseg.report.figures.style import combo_legend, hidden, new_figure, save, scatter_combos

MEASURES = ("AU", "EU", "TU")


def plot_oracle(oracle: pd.DataFrame, out_dir: Path, name: str = "fig_oracle_ncc") -> Path:
    """Rows = datasets with an oracle, columns = AU, EU, TU: x = NCC against the K annotators' variance, y = NCC
    against the oracle variance (ID test, mean over seeds), with the diagonal. Points above it gain from the exact
    map, i.e. the K-annotator estimate limits the measured AMB performance. `oracle` is an `oracle_table`."""
    pts = oracle[oracle.group == "ID"].groupby(["dataset", "au", "eu", "measure"], sort=False)[
        ["ncc", "ncc_oracle"]].mean().reset_index()
    datasets = sorted(set(pts.dataset)) or ["(no data)"]
    fig, axes = new_figure(len(datasets), len(MEASURES), 10.5, 3.5 * len(datasets) + 0.8)
    for i, dataset in enumerate(datasets):
        for j, measure in enumerate(MEASURES):
            ax = axes[i, j]
            sel = pts[(pts.dataset == dataset) & (pts.measure == measure)]
            v = np.r_[sel.ncc.to_numpy(dtype=float), sel.ncc_oracle.to_numpy(dtype=float)]
            v = v[np.isfinite(v)]
            if v.size == 0:
                ax.set_axis_off()
                ax.set_title(f"{dataset}, {measure}: no data")
                continue
            pad = max(0.05 * np.ptp(v), 0.02)
            lo, hi = float(v.min() - pad), float(v.max() + pad)
            ax.plot([lo, hi], [lo, hi], color="#555555", ls="--", lw=1, zorder=1)
            scatter_combos(ax, sel, "ncc", "ncc_oracle")
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel(f"{measure} NCC vs K annotators, ↑ better")
            ax.set_ylabel(f"{measure} NCC vs oracle, ↑ better")
            ax.set_title(f"{dataset}: {measure} (ID test){hidden(sel[['ncc', 'ncc_oracle']])}")
    combo_legend(fig, list(dict.fromkeys(pts.au)), list(dict.fromkeys(pts.eu)))
    return save(fig, out_dir, name)
