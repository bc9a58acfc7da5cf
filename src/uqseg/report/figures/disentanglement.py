"""The disentanglement sweeps' figure (docs/method.md "Disentanglement error"): per combination, u_a and u_e
against the ambiguity (aleatoric sweep) and the training-set fraction (epistemic sweep), mean ± sd over seeds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes

from uqseg.report.figures.style import empty_figure, new_figure, save

AU_COLOUR, EU_COLOUR = "#1f77b4", "#d62728"
SWEEPS = (("aleatoric", "annotator ambiguity (U_a)"), ("epistemic", "training-set fraction (U_e falls →)"))


def _panel(ax: Axes, levels: pd.DataFrame, xlabel: str, title: str) -> None:
    stats = levels.groupby("level")[["au_mean", "eu_mean"]].agg(["mean", "std"]).sort_index()
    x = stats.index.to_numpy(float)
    ax.errorbar(x, stats["au_mean"]["mean"], yerr=stats["au_mean"]["std"].fillna(0), color=AU_COLOUR, marker="o",
                ms=4, capsize=2, label="u_a (AU)")
    ax.set_ylabel("mean AU", color=AU_COLOUR)
    twin = ax.twinx()
    twin.errorbar(x, stats["eu_mean"]["mean"], yerr=stats["eu_mean"]["std"].fillna(0), color=EU_COLOUR, marker="s",
                  ms=4, capsize=2, label="u_e (EU)")
    twin.set_ylabel("mean EU", color=EU_COLOUR)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)


def plot_disentanglement(levels: pd.DataFrame, out_dir: Path, name: str = "sweep_disentanglement") -> Path:
    """One row per dataset and combination: u_a (left axis) and u_e (right axis) against the ambiguity (left panel)
    and the training-set fraction (right panel, log scale). ``levels`` is a ``level_table``."""
    if levels.empty:
        return empty_figure(name, out_dir, "no disentanglement-sweep rows")
    rows = list(levels.groupby(["dataset", "au", "eu"], sort=True))
    fig, axes = new_figure(len(rows), 2, 10.0, 2.8 * len(rows) + 0.6)
    for i, ((dataset, au, eu), g) in enumerate(rows):
        for j, (sweep, xlabel) in enumerate(SWEEPS):
            s = g[g.sweep == sweep]
            title = f"{dataset} {au}+{eu}: {sweep} sweep"
            if s.empty:
                axes[i, j].text(0.5, 0.5, "no aleatoric sweep\n(no generator)", ha="center", va="center",
                                transform=axes[i, j].transAxes)
                axes[i, j].set_title(title, fontsize=9)
                axes[i, j].set_axis_off()
                continue
            _panel(axes[i, j], s, xlabel, title)
        if (g.sweep == "epistemic").any():
            axes[i, 1].set_xscale("log")
    return save(fig, out_dir, name)
