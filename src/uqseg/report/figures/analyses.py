"""The open-question analyses' figures (docs/method.md "Open questions"): Δ before against after post-hoc EU
rescaling, and the AU–EU rank correlation against Δ."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.lines import Line2D

from uqseg.report.figures.style import combo_legend, empty_figure, hidden, new_figure, save, scatter_combos
from uqseg.vocabulary import TASKS

TASK_COLOURS = {"OODD": "#1b9e77", "AMB": "#d95f02", "CAL": "#7570b3"}


def plot_rescaling(table: pd.DataFrame, out_dir: Path, name: str = "analysis_eu_rescaling") -> Path:
    """Per dataset (rows) and factor (columns): Δ before (x) against after (y) rescaling, one point per combination,
    task (colour) and split group (filled: ID test, hollow: OOD), mean over seeds; the diagonal is "no change".
    ``table`` is a ``rescaling_table``."""
    if table.empty:
        return empty_figure(name, out_dir, "no rescaled rows")
    means = table.groupby(["dataset", "factor", "au", "eu", "task", "group"], sort=True)[
        ["delta_main", "delta"]].mean().reset_index()
    datasets, factors = sorted(means.dataset.unique()), sorted(means.factor.unique())
    fig, axes = new_figure(len(datasets), len(factors), 2.9 * len(factors) + 0.4, 2.8 * len(datasets) + 0.9)
    for i, dataset in enumerate(datasets):
        for j, factor in enumerate(factors):
            ax = axes[i, j]
            sel = means[(means.dataset == dataset) & (means.factor == factor)]
            for (task, group), g in sel.groupby(["task", "group"], sort=True):
                filled = group == "ID"
                ax.scatter(g.delta_main, g.delta, s=28, marker="o", linewidths=0.8, zorder=3,
                           facecolors=TASK_COLOURS.get(task, "#666666") if filled else "none",
                           edgecolors=TASK_COLOURS.get(task, "#666666"))
            ax.axline((0, 0), slope=1, color="#555555", ls="--", lw=1)
            ax.axhline(0, color="#bbbbbb", lw=0.6)
            ax.axvline(0, color="#bbbbbb", lw=0.6)
            ax.set_xlabel("Δ before")
            ax.set_ylabel("Δ after rescaling")
            ax.set_title(f"{dataset}\n{factor}{hidden(sel[['delta_main', 'delta']])}")
    handles = [Line2D([], [], color=c, marker="o", ls="", label=t) for t, c in TASK_COLOURS.items()]
    handles += [Line2D([], [], color="#333333", marker="o", ls="", label="ID test"),
                Line2D([], [], color="#333333", marker="o", mfc="none", ls="", label="OOD")]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    return save(fig, out_dir, name)


def plot_rank(paired: pd.DataFrame, orderings: pd.DataFrame, out_dir: Path, name: str = "analysis_au_eu_rank"
              ) -> Path:
    """Per dataset (rows) and task (columns): the ID-test AU–EU Spearman ρ (x) against Δ (y), one point per
    combination (colour = AU model, marker = EU method), mean over seeds; each title gives the rank correlation
    between the two orderings. ``paired`` is a ``rank_vs_delta`` table, ``orderings`` its
    ``ordering_correlation``."""
    if paired.empty:
        return empty_figure(name, out_dir, "no AU–EU rank-correlation rows")
    means = paired.groupby(["dataset", "au", "eu", "task"], sort=True)[["rho", "delta"]].mean().reset_index()
    datasets = sorted(means.dataset.unique())
    fig, axes = new_figure(len(datasets), len(TASKS), 9.0, 2.8 * len(datasets) + 0.9)
    for i, dataset in enumerate(datasets):
        for j, task in enumerate(TASKS):
            ax = axes[i, j]
            sel = means[(means.dataset == dataset) & (means.task == task)]
            scatter_combos(ax, sel, "rho", "delta")
            ax.axhline(0, color="#555555", ls="--", lw=1)
            o = orderings[(orderings.dataset == dataset) & (orderings.task == task)]
            rho = float(o.spearman.iloc[0]) if len(o) else float("nan")
            link = f"ordering ρ = {rho:+.2f}" if rho == rho else "ordering ρ: n/a (< 3 combinations)"
            ax.set_xlabel("AU–EU Spearman ρ (ID-test pixels)")
            ax.set_ylabel(f"Δ {task}")
            ax.set_title(f"{dataset}, {task}\n{link}{hidden(sel[['rho', 'delta']])}")
    combo_legend(fig, list(dict.fromkeys(means.au)), list(dict.fromkeys(means.eu)))
    return save(fig, out_dir, name)
