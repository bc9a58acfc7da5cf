"""Shared figure style: AU colours, EU markers, legends, and saving every figure as PNG and PDF."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from uqseg.vocabulary import KNOWN_AU_MODELS, KNOWN_EU_METHODS, au_label, eu_label, known_au_models, order_key

AU_COLOURS = {"softmax": "#0072B2", "ssn": "#E69F00", "prob_unet": "#009E73", "diffusion": "#CC79A7"}
REGISTERED_COLOURS = ("#D55E00", "#56B4E9", "#000000", "#F0E442")
EU_MARKERS = {"none": "X", "dropout": "o", "swag": "s", "swag_d": "D", "ensemble": "^"}
RC = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8, "figure.dpi": 110,
      "axes.grid": True, "grid.alpha": 0.3}


def colour(au: str) -> str:
    """The colour of an AU model: its own, one of ``REGISTERED_COLOURS`` in registration order for a registered model
    (docs/custom_model.md), grey otherwise."""
    if au in AU_COLOURS:
        return AU_COLOURS[au]
    registered = known_au_models()[len(KNOWN_AU_MODELS):]
    return REGISTERED_COLOURS[registered.index(au) % len(REGISTERED_COLOURS)] if au in registered else "#777777"


def marker(eu: str) -> str:
    """The marker of an EU method ('*' for unknown names)."""
    return EU_MARKERS.get(eu, "*")


def context() -> AbstractContextManager:
    """The report's matplotlib style; wrap figure building in it."""
    return matplotlib.rc_context(RC)


def new_figure(nrows: int, ncols: int, width: float, height: float, **kwargs: object) -> tuple[Figure, np.ndarray]:
    """A figure with constrained layout (no overlapping labels) and a 2-D array of axes; no pyplot, so no global
    backend or figure registry is touched."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False, **kwargs)


def combo_legend(
    fig: Figure, aus: list[str] | None = None, eus: list[str] | None = None, extra: list[Artist] | None = None,
    ax: Axes | None = None,
) -> None:
    """One legend row under the figure: colour = AU model, marker = EU method, then any `extra` handles; with `ax`,
    a one-column legend filling that (otherwise empty) axes instead."""
    aus = sorted(aus or KNOWN_AU_MODELS, key=lambda a: order_key(a, "")[::2])
    eus = sorted(eus or KNOWN_EU_METHODS, key=lambda e: order_key("", e)[1:])
    h_au = [Line2D([], [], color=colour(a), marker="o", ls="", ms=7, label=au_label(a)) for a in aus]
    h_eu = [Line2D([], [], color="#333333", marker=marker(e), ls="", ms=7, mfc="none", label=eu_label(e))
            for e in eus]
    handles = h_au + h_eu + (extra or [])
    if ax is not None:
        ax.set_axis_off()
        ax.legend(handles=handles, loc="center", frameon=False, title="colour = AU model\nmarker = EU method",
                  fontsize=RC["font.size"], title_fontsize=RC["font.size"])
        return
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False,
               title="colour = AU model, marker = EU method", fontsize=RC["legend.fontsize"],
               title_fontsize=RC["legend.fontsize"])


def save(fig: Figure, out_dir: Path, name: str) -> Path:
    """Write `name`.png (150 dpi) and `name`.pdf into out_dir and return the PNG path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    fig.savefig(png, dpi=150)
    fig.set_layout_engine("none")  # keep the layout just computed; the PDF needs no second layout pass
    fig.savefig(out_dir / f"{name}.pdf")
    return png


def empty_figure(name: str, out_dir: Path, text: str) -> Path:
    """A small figure that only says ``text``, for an analysis without rows to draw."""
    fig, axes = new_figure(1, 1, 4.0, 2.0)
    axes[0, 0].set_axis_off()
    axes[0, 0].set_title(text)
    return save(fig, out_dir, name)


def dot_strip(ax: Axes, points: pd.DataFrame, category: str, categories: list[str], width: float = 0.7) -> None:
    """Points (`mean` ± `ci`) of each combination at x = its `category`, spread within the category in AU × EU
    order; colour = AU model, marker = EU method. Categories become the x tick labels."""
    for i, cat in enumerate(categories):
        sel = points[points[category] == cat]
        sel = sel.iloc[sorted(range(len(sel)), key=lambda k: order_key(sel.au.iloc[k], sel.eu.iloc[k]))]
        n = len(sel)
        for j, p in enumerate(sel.itertuples()):
            x = i + (j - (n - 1) / 2) * (width / max(n, 1))
            err = p.ci if np.isfinite(p.ci) and p.ci > 0 else None
            ax.errorbar(x, p.mean, yerr=err, color=colour(p.au), marker=marker(p.eu), ms=6, mec="black", mew=0.4,
                        ls="", elinewidth=0.8, capsize=1.5, zorder=3)
    ax.set_xticks(range(len(categories)))
    ax.set_xlim(-0.6, len(categories) - 0.4)


def scatter_combos(ax: Axes, points: pd.DataFrame, x: str, y: str, size: float = 40) -> None:
    """One point per row at (`x`, `y`): colour = AU model, marker = EU method (one collection per marker); `size`
    is the marker area in points²."""
    for eu, g in points.groupby("eu", sort=False):
        ax.scatter(g[x].to_numpy(dtype=float), g[y].to_numpy(dtype=float), c=[colour(a) for a in g.au],
                   marker=marker(eu), s=size, edgecolors="black", linewidths=0.5, zorder=3)


def hidden(values: pd.DataFrame | pd.Series, positive: bool = False) -> str:
    """A new title line `(k not shown: NaN)` for the k rows with a non-finite value (or ≤ 0 with `positive`, for
    log axes), so a figure never drops a combination silently; "" when every row is shown."""
    v = np.asarray(values, dtype=float).reshape(len(values), -1)
    bad = ~np.isfinite(v).all(axis=1)
    if positive:
        bad |= ~(v > 0).all(axis=1)
    k = int(bad.sum())
    return f"\n({k} not shown: {'NaN or ≤ 0' if positive else 'NaN'})" if k else ""
