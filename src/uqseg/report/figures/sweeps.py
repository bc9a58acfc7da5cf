"""The sweeps' figures (docs/method.md "Entanglement versus shift severity, model size and training"):
one line per combination, colour = AU model, marker = EU method, mean over seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from uqseg.report.figures.style import colour, combo_legend, empty_figure, marker, new_figure, save
from uqseg.vocabulary import KEYS, TASKS


def _line(ax: Axes, x: np.ndarray, y: np.ndarray, au: str, eu: str, **style: object) -> None:
    order = np.argsort(x)
    ax.plot(x[order], y[order], color=colour(au), marker=marker(eu), ms=5, mec="black", mew=0.4, **style)


def plot_severity(table: pd.DataFrame, out_dir: Path, name: str = "sweep_severity") -> Path:
    """Per dataset and OOD split (rows): EU (solid) and AU (dashed) OOD AUROC against the shift severity (left) and
    their Δ (right; > 0: EU, the correct measure, wins). ``table`` is a ``severity_table``."""
    if table.empty:
        return empty_figure(name, out_dir, "no severity-sweep rows")
    means = table.groupby(["dataset", "split", "au", "eu", "severity"], sort=True)[
        ["eu_auroc", "au_auroc", "delta"]].mean().reset_index()
    panels = list(means.groupby(["dataset", "split"], sort=True))
    fig, axes = new_figure(len(panels), 2, 9.0, 2.6 * len(panels) + 0.9)
    for i, ((dataset, split), g) in enumerate(panels):
        for (au, eu), c in g.groupby(["au", "eu"], sort=False):
            x = c.severity.to_numpy(float)
            _line(axes[i, 0], x, c.eu_auroc.to_numpy(float), au, eu, ls="-")
            _line(axes[i, 0], x, c.au_auroc.to_numpy(float), au, eu, ls="--", alpha=0.6)
            _line(axes[i, 1], x, c.delta.to_numpy(float), au, eu, ls="-")
        axes[i, 0].axhline(0.5, color="#555555", ls=":", lw=1)
        axes[i, 1].axhline(0.0, color="#555555", ls="--", lw=1)
        axes[i, 0].set_ylabel("OOD AUROC")
        axes[i, 1].set_ylabel("Δ (> 0: EU wins)")
        for ax in axes[i]:
            ax.set_xlabel("shift severity")
            ax.set_title(f"{dataset} {split}")
    styles = [Line2D([], [], color="#333333", ls="-", label="EU (correct)"),
              Line2D([], [], color="#333333", ls="--", label="AU (wrong)")]
    combo_legend(fig, list(dict.fromkeys(means.au)), list(dict.fromkeys(means.eu)), extra=styles)
    return save(fig, out_dir, name)


def plot_width(table: pd.DataFrame, out_dir: Path, name: str = "sweep_width") -> Path:
    """Per dataset (rows): the ID-test EU/AU ratio (log) and each task's Δ against one network's parameter count
    (log). ``table`` is a ``width_table``."""
    if table.empty:
        return empty_figure(name, out_dir, "no width-sweep rows")
    means = table.groupby([*KEYS[:1], *KEYS[2:], "task", "factor"], sort=True)[
        ["parameters", "eu_au_ratio", "delta"]].mean().reset_index()
    datasets = sorted(means.dataset.unique())
    fig, axes = new_figure(len(datasets), 1 + len(TASKS), 12.0, 2.8 * len(datasets) + 0.9)
    for i, dataset in enumerate(datasets):
        d = means[means.dataset == dataset]
        for (au, eu), c in d.groupby(["au", "eu"], sort=False):
            one = c.drop_duplicates("factor")
            ratio = one.eu_au_ratio.to_numpy(float)
            keep = np.isfinite(ratio) & (ratio > 0)
            _line(axes[i, 0], one.parameters.to_numpy(float)[keep], ratio[keep], au, eu)
            for j, task in enumerate(TASKS, start=1):
                t = c[c.task == task]
                _line(axes[i, j], t.parameters.to_numpy(float), t.delta.to_numpy(float), au, eu)
        axes[i, 0].set_yscale("log")
        axes[i, 0].set_ylabel("EU/AU ratio (ID test)")
        axes[i, 0].set_title(f"{dataset}: epistemic collapse")
        for j, task in enumerate(TASKS, start=1):
            axes[i, j].axhline(0.0, color="#555555", ls="--", lw=1)
            axes[i, j].set_ylabel(f"Δ {task}")
            axes[i, j].set_title(f"{dataset}: {task}")
        for ax in axes[i]:
            ax.set_xscale("log")
            ax.set_xlabel("parameters (one network)")
    combo_legend(fig, list(dict.fromkeys(means.au)), list(dict.fromkeys(means.eu)))
    return save(fig, out_dir, name)


def plot_epoch(table: pd.DataFrame, out_dir: Path, name: str = "sweep_epoch") -> Path:
    """Per dataset two rows: each task's Δ (upper) and the correct measure's performance (lower) against the
    training epochs. ``table`` is an ``epoch_table``."""
    if table.empty:
        return empty_figure(name, out_dir, "no epoch-sweep rows")
    means = table.groupby(["dataset", "au", "eu", "task", "epochs"], sort=True)[
        ["performance", "delta"]].mean().reset_index()
    datasets = sorted(means.dataset.unique())
    fig, axes = new_figure(2 * len(datasets), len(TASKS), 10.0, 4.8 * len(datasets) + 0.9)
    for i, dataset in enumerate(datasets):
        d = means[means.dataset == dataset]
        for (au, eu), c in d.groupby(["au", "eu"], sort=False):
            for j, task in enumerate(TASKS):
                t = c[c.task == task]
                x = t.epochs.to_numpy(float)
                _line(axes[2 * i, j], x, t.delta.to_numpy(float), au, eu)
                _line(axes[2 * i + 1, j], x, t.performance.to_numpy(float), au, eu)
        for j, task in enumerate(TASKS):
            axes[2 * i, j].axhline(0.0, color="#555555", ls="--", lw=1)
            axes[2 * i, j].set_ylabel(f"Δ {task}")
            axes[2 * i, j].set_title(f"{dataset}: {task}")
            axes[2 * i + 1, j].set_ylabel(f"{task} performance")
            for ax in (axes[2 * i, j], axes[2 * i + 1, j]):
                ax.set_xlabel("epochs")
    combo_legend(fig, list(dict.fromkeys(means.au)), list(dict.fromkeys(means.eu)))
    return save(fig, out_dir, name)
