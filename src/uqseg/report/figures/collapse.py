"""Fig. 8: epistemic collapse — the EU/AU ratio of every combination (docs/method.md §3, paper §4)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from uqseg.report.figures.style import combo_legend, dot_strip, hidden, new_figure, save
from uqseg.report.frames import over_seeds
from uqseg.vocabulary import KNOWN_EU_METHODS, eu_label


def plot_collapse(collapse: pd.DataFrame, out_dir: Path, name: str = "fig8_collapse") -> Path:
    """EU/AU ratio (log scale, mean ± 95% CI over seeds) per EU method, one point per AU model, ID test and OOD
    panels per dataset; the line at 1 is where EU and AU have equal magnitude. `collapse` is a `collapse_table`."""
    pts = over_seeds(collapse, ["dataset", "group", "au", "eu"], "value")
    datasets = sorted(set(pts.dataset)) or ["(no data)"]
    groups = ["ID", "OOD"]
    fig, axes = new_figure(len(datasets), len(groups), 9.0, 3.2 * len(datasets) + 0.8)
    for i, dataset in enumerate(datasets):
        for j, group in enumerate(groups):
            ax = axes[i, j]
            sel = pts[(pts.dataset == dataset) & (pts.group == group)]
            ok = sel[sel["mean"] > 0]
            where = "ID test" if group == "ID" else "OOD splits, mean"
            if ok.empty:
                ax.set_axis_off()
                ax.set_title(f"{dataset} ({where}): no data")
                continue
            eus = [e for e in KNOWN_EU_METHODS if e in set(ok.eu)] + sorted(set(ok.eu) - set(KNOWN_EU_METHODS))
            dot_strip(ax, ok, "eu", eus)
            ax.set_xticklabels([eu_label(e) for e in eus])
            ax.axhline(1.0, color="#555555", ls="--", lw=1)
            ax.set_yscale("log")
            ax.set_xlabel("EU method")
            ax.set_ylabel("EU/AU ratio (log scale; 1 = equal)")
            ax.set_title(f"{dataset} ({where}){hidden(sel['mean'], positive=True)}")
    combo_legend(fig, list(dict.fromkeys(pts.au)), list(dict.fromkeys(pts.eu)))
    return save(fig, out_dir, name)
