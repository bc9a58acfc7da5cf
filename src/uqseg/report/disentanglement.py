"""The disentanglement error's tables and reading (docs/method.md "Disentanglement error"): per combination its DE
over seeds next to its ordering by Δ, with the rank correlation between the two orderings, from the rows of
``results.parquet`` alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from uqseg.report import html
from uqseg.report.tables import delta_table
from uqseg.report.writer import Writer
from uqseg.results import check_results
from uqseg.vocabulary import ANALYSIS, KEYS, MAIN_ANALYSIS, TASKS

DE_ANALYSIS, DE_TASK = "disentanglement", "DISENT"
LEVEL_PREFIX = f"{DE_ANALYSIS}:"
LEVEL_COLUMNS = [*KEYS, "sweep", "level", "au_mean", "eu_mean"]
DE_COLUMNS = [*KEYS, "de", "AU~U_a", "EU~U_e", "AU~U_e", "EU~U_a", "status"]
ORDER_COLUMNS = ["dataset", "au", "eu", "seeds", "de_mean", "de_std", "de_rank",
                 *(f"delta_{t}" for t in TASKS), *(f"delta_rank_{t}" for t in TASKS)]


def level_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, seed, combination, sweep (``aleatoric``, ``epistemic``) and level (ambiguity or training-set
    fraction): the mean estimated AU and EU over the ID test pixels."""
    res = check_results(results)
    res = res[res[ANALYSIS].str.startswith(LEVEL_PREFIX) & (res.task == DE_TASK) & (res.metric == "mean")]
    if res.empty:
        return pd.DataFrame(columns=LEVEL_COLUMNS)
    wide = res.pivot_table(index=[*KEYS, ANALYSIS], columns="measure", values="value").reset_index()
    parts = wide[ANALYSIS].str.split(":", expand=True)
    wide = wide.assign(sweep=parts[1], level=parts[2].astype(float)).rename(columns={"AU": "au_mean",
                                                                                      "EU": "eu_mean"})
    return wide.loc[:, LEVEL_COLUMNS].sort_values([*KEYS, "sweep", "level"]).reset_index(drop=True)


def de_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, seed and combination: the disentanglement error, its four correlations and the DE row's status
    (why it is NaN: no aleatoric sweep)."""
    res = check_results(results)
    res = res[(res[ANALYSIS] == DE_ANALYSIS) & (res.task == DE_TASK)]
    if res.empty:
        return pd.DataFrame(columns=DE_COLUMNS)
    wide = res.set_index([*KEYS, "measure"]).value.unstack("measure").reset_index()  # keeps NaN, no cross product
    status = res[res.measure == "DE"].loc[:, [*KEYS, "status"]]
    wide = wide.rename(columns={"DE": "de"}).merge(status, on=list(KEYS), how="left")
    return wide.loc[:, DE_COLUMNS].sort_values(list(KEYS)).reset_index(drop=True)


def orderings(results: pd.DataFrame, de: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and combination of ``de``: mean and standard deviation of DE over seeds, its rank (1 = best
    disentangled, lowest DE), and each task's mean Δ of the study (OODD on the OOD mean, AMB and CAL on the ID
    test) with its rank (1 = least entangled, highest Δ)."""
    if de.empty:
        return pd.DataFrame(columns=ORDER_COLUMNS)
    res = check_results(results)
    agg = de.groupby(["dataset", "au", "eu"], sort=True).de.agg(["mean", "std", "count"]).reset_index()
    agg = agg.rename(columns={"mean": "de_mean", "std": "de_std", "count": "seeds"})
    main = res[res[ANALYSIS] == MAIN_ANALYSIS]
    deltas = delta_table(main) if len(main) else pd.DataFrame(columns=[*KEYS, "task", "group", "delta"])
    deltas = deltas[(deltas.group == "ID") | (deltas.task == "OODD")]
    wide = deltas.groupby(["dataset", "au", "eu", "task"]).delta.mean().unstack("task")
    wide = wide.reindex(columns=list(TASKS)).add_prefix("delta_").reset_index()
    out = agg.merge(wide, on=["dataset", "au", "eu"], how="left")
    out["de_rank"] = out.groupby("dataset").de_mean.rank(method="average")
    for task in TASKS:
        out[f"delta_rank_{task}"] = out.groupby("dataset")[f"delta_{task}"].rank(method="average", ascending=False)
    return out.loc[:, ORDER_COLUMNS]


def ordering_correlation(order: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and task, Spearman's ρ between the combinations' DE and their Δ (seed means); NaN with fewer than
    three combinations. ρ < 0 means the orderings agree (low DE, high Δ)."""
    rows = []
    for dataset, g in order.groupby("dataset", sort=True):
        for task in TASKS:
            ok = g[np.isfinite(g.de_mean.astype(float)) & np.isfinite(g[f"delta_{task}"].astype(float))]
            rho = float(spearmanr(ok.de_mean, ok[f"delta_{task}"]).statistic) if len(ok) >= 3 else np.nan
            rows.append({"dataset": dataset, "task": task, "combinations": len(ok), "spearman": rho})
    return pd.DataFrame(rows, columns=["dataset", "task", "combinations", "spearman"])


def _spread(levels: pd.DataFrame, column: str) -> str:
    means = levels.groupby("level")[column].mean().sort_index()
    return f"{means.iloc[0]:.4g} → {means.iloc[-1]:.4g}"


def disentanglement_reading(de: pd.DataFrame, levels: pd.DataFrame, order: pd.DataFrame,
                            links: pd.DataFrame) -> str:
    """One paragraph from the numbers: per dataset and combination, DE (mean ± sd over seeds) with the correlations
    behind it and how u_a and u_e move along each sweep; the rank correlation of DE with Δ per task."""
    if de.empty:
        return "No disentanglement rows."
    parts = []
    for (dataset, au, eu), g in de.groupby(["dataset", "au", "eu"], sort=True):
        lv = levels[(levels.dataset == dataset) & (levels.au == au) & (levels.eu == eu)]
        moves = []
        for sweep, what in (("aleatoric", "ambiguity"), ("epistemic", "training fraction")):
            s = lv[lv.sweep == sweep]
            if len(s):
                moves.append(f"{what} {s.level.min():g} → {s.level.max():g}: u_a {_spread(s, 'au_mean')}, "
                             f"u_e {_spread(s, 'eu_mean')}")
        if g.de.notna().any():
            head = (f"DE {g.de.mean():.2f} ± {g.de.std(ddof=1) if len(g) > 1 else 0.0:.2f} over {len(g)} seed(s) "
                    f"(ρ(u_a,U_a) {g['AU~U_a'].mean():+.2f}, ρ(u_e,U_e) {g['EU~U_e'].mean():+.2f}, "
                    f"ρ(u_a,U_e) {g['AU~U_e'].mean():+.2f}, ρ(u_e,U_a) {g['EU~U_a'].mean():+.2f})")
        else:
            head = f"DE not defined ({g.status.iloc[0].removeprefix('undefined: ')})"
        parts.append(f"{dataset} {au}+{eu}: {head}; " + "; ".join(moves))
    text = ("Disentanglement error (0 = u_a follows only the ambiguity and u_e only the data size, 1/2 = both follow "
            "both, 1 = swapped): " + " | ".join(parts) + ".")
    finite = links[np.isfinite(links.spearman.astype(float))]
    if len(finite):
        text += " Rank correlation of DE with Δ across combinations (< 0: the orderings agree): " + ", ".join(
            f"{r.dataset} {r.task} {r.spearman:+.2f} ({r.combinations} combinations)" for r in finite.itertuples())
        text += "."
    else:
        n = int(order.groupby("dataset").size().max()) if len(order) else 0
        text += (f" With {n} combination(s) per dataset no rank correlation with Δ is given (it needs at least three; "
                 "sweeps.disentanglement.combos chooses them).")
    return text


def disentanglement_section(w: Writer, results: pd.DataFrame) -> html.Section | None:
    """The report section of the disentanglement sweeps, or None without their rows: the figure of u_a and u_e along
    each sweep, the table of DE next to the Δ ordering with their rank correlations, and a reading."""
    from uqseg.report.figures.disentanglement import plot_disentanglement  # local: matplotlib

    de = de_table(results)
    if de.empty:
        return None
    levels = level_table(results)
    order = orderings(results, de)
    links = ordering_correlation(order)
    link_files = w.table(links, "sweep_disentanglement_orderings")
    order_files = w.table(order, "sweep_disentanglement_de")
    section = w.figure_section(
        "sweep-disentanglement", "Open question: disentanglement error",
        "The chosen combinations trained at several annotator ambiguities (aleatoric sweep; generated data only) and "
        "on several fractions of the training set (epistemic sweep): the mean estimated AU (u_a) and EU (u_e) over "
        "the ID test pixels per level, and the disentanglement error of de Jong et al. (2024) per seed. The table "
        "puts each combination's DE (mean ± sd over seeds, rank 1 = lowest) next to its ordering by the study's Δ "
        "per task.",
        levels, "sweep_disentanglement_levels", plot_disentanglement(levels, w.figures),
        "Mean over seeds per combination, bars ± one standard deviation; AU left axis, EU right axis.",
        disentanglement_reading(de, levels, order, links))
    section.blocks += [html.table(order, order_files), html.table(links, link_files)]
    return section
