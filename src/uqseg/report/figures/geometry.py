"""Fig. 4: the geometry of Δ — the angle of (U_w, U_c) from the diagonal in 45° units (docs/method.md §2; Eq. 2)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.patches import Arc

from uqseg.metrics import entanglement
from uqseg.report.figures.style import new_figure, save

EXAMPLES = ((2.0, 5.0), (6.0, 4.0))


def plot_geometry(out_dir: Path, name: str = "fig4_delta_geometry") -> Path:
    """Fig. 4: two worked examples, (U_w, U_c) = (2, 5) → Δ = +0.516 (disentangled) and (6, 4) → Δ = −0.251
    (entangled), with their angles from the diagonal."""
    fig, axes = new_figure(1, 1, 5.2, 4.6)
    ax = axes[0, 0]
    top = 7.0
    ax.fill([0, 0, top], [0, top, top], color="#2ca02c", alpha=0.08, lw=0)
    ax.fill([0, top, top], [0, 0, top], color="#d62728", alpha=0.06, lw=0)
    ax.plot([0, top], [0, top], ls="--", color="#555555", lw=1)
    ax.text(0.4, 6.5, "correct measure wins\nΔ > 0 (disentangled)", color="#1a6e1a", va="top", fontsize=8)
    ax.text(6.8, 0.3, "wrong measure wins\nΔ < 0 (entangled)", color="#a11d1d", ha="right", fontsize=8)
    ax.text(5.5, 5.6, "Δ = 0", rotation=45, rotation_mode="anchor", ha="center", va="bottom", fontsize=8,
            color="#555555")
    for (uw, uc), col in zip(EXAMPLES, ("#1f77b4", "#ff7f0e"), strict=True):
        d = entanglement(uc, uw)
        ang = math.degrees(math.atan2(uc, uw))
        ax.plot([0, uw], [0, uc], color=col, lw=1.5)
        ax.scatter([uw], [uc], color=col, s=40, zorder=3)
        r = 0.45 * math.hypot(uw, uc)
        ax.add_patch(Arc((0, 0), 2 * r, 2 * r, theta1=min(45, ang), theta2=max(45, ang), color=col, lw=1.5))
        mid = math.radians((45 + ang) / 2)
        ax.annotate(f"({uw:g}, {uc:g})\nΔ = {d:+.3f}".replace("-", "−"), (uw, uc), xytext=(8, -4),
                    textcoords="offset points", color=col, fontsize=8, va="top",
                    bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 1})
        ax.text(1.12 * r * np.cos(mid), 1.12 * r * np.sin(mid), f"{ang - 45:+.1f}°".replace("-", "−"), color=col,
                fontsize=7, ha="center", va="center")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_aspect("equal")
    ax.set_xlabel("U_w: performance of the wrong measure (↑ better)")
    ax.set_ylabel("U_c: performance of the correct measure (↑ better)")
    ax.set_title("Δ = s·(atan2(U_c, U_w) − π/4)/(π/4), s = +1 here")
    return save(fig, out_dir, name)
