"""Fig. 9: the OOD aggregation ablation — EU AUROC and Δ for each image-score strategy (docs/method.md §3 OODD)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from uqseg.report.figures.style import combo_legend, dot_strip, hidden, new_figure, save
from uqseg.report.frames import over_seeds
from uqseg.vocabulary import STRATEGIES

PANELS = (("u_correct", "EU AUROC (OOD mean), ↑ better"), ("delta", "Δ OODD, ↑ better (disentangled)"))


def plot_ablation(ablation: pd.DataFrame, out_dir: Path, name: str = "fig9_ood_aggregation") -> Path:
    """Per dataset: EU AUROC and Δ (mean ± 95% CI over seeds) of every combination for each aggregation strategy;
    `ablation` is an `ablation_table`. The paper's main strategy is `border`."""
    datasets = sorted(set(ablation.dataset)) or ["(no data)"]
    fig, axes = new_figure(len(datasets), len(PANELS), 11.0, 3.4 * len(datasets) + 0.8)
    strategies = [s for s in STRATEGIES if s in set(ablation.strategy)]
    for i, dataset in enumerate(datasets):
        for j, (column, label) in enumerate(PANELS):
            ax = axes[i, j]
            pts = over_seeds(ablation[ablation.dataset == dataset], ["strategy", "au", "eu"], column)
            if pts.empty or not pts["mean"].notna().any():
                ax.set_axis_off()
                ax.set_title(f"{dataset}: no data")
                continue
            dot_strip(ax, pts, "strategy", strategies)
            ax.set_xticklabels([f"{s}\n(main)" if s == "border" else s for s in strategies])
            if column == "delta":
                ax.axhline(0.0, color="#555555", ls="--", lw=1)
            else:
                ax.axhline(0.5, color="#999999", ls=":", lw=1)
            ax.set_xlabel("image-score aggregation strategy")
            ax.set_ylabel(label)
            ax.set_title(f"{dataset}{hidden(pts['mean'])}")
    combo_legend(fig, list(dict.fromkeys(ablation.au)), list(dict.fromkeys(ablation.eu)))
    return save(fig, out_dir, name)
