"""The open-question analyses' tables and readings (docs/method.md "Open questions"): Δ and task performance before
and after post-hoc EU rescaling, and the AU–EU rank correlation next to Δ, from the rows of ``results.parquet``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from uqseg.report import html
from uqseg.report.tables import delta_table
from uqseg.report.writer import Writer
from uqseg.results import check_results
from uqseg.vocabulary import ANALYSIS, KEYS

RESCALED_PREFIX, RANK = "eu_rescaled:", "au_eu_rank"
RESCALING_COLUMNS = [*KEYS, "factor", "f", "task", "group", "metric", "delta_main", "delta", "delta_low",
                     "delta_high", "performance_main", "performance"]
RANK_COLUMNS = [*KEYS, "group", "aggregation", "rho"]
NO_CHANGE = 1e-3
"""A change of the mean Δ smaller than this reads as no change (f = 1 reproduces Δ up to the histograms' bins)."""
TASK_GROUP = {"OODD": "OOD", "AMB": "ID", "CAL": "ID"}
"""The split group each task's Δ is read on next to the rank correlation: OODD on the OOD splits, AMB and CAL on
the ID test (paper Table 1)."""


def rescaling_table(results: pd.DataFrame, replicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per dataset, seed, combination, factor (``mean_ratio``, ``search:<task>``), task and split group: the factor f
    fitted on validation, Δ and the correct measure's performance before (``*_main``) and after rescaling, with the
    95 % bootstrap interval of Δ after (docs/method.md "Open questions"). A combination whose factor could not be
    fitted (its factor row is NaN) has no rows for that factor."""
    res = check_results(results)
    labels = sorted(a for a in res[ANALYSIS].unique() if a.startswith(RESCALED_PREFIX))
    if not labels:
        return pd.DataFrame(columns=RESCALING_COLUMNS)
    main = delta_table(res, replicates).loc[:, [*KEYS, "task", "group", "metric", "delta", "u_correct"]]
    main = main.rename(columns={"delta": "delta_main", "u_correct": "performance_main"})
    frames = []
    for label in labels:
        rows = res[res[ANALYSIS] == label]
        fitted = rows[(rows.task == "RESCALE") & np.isfinite(rows.value)].loc[:, [*KEYS, "value"]]
        after = delta_table(res, replicates, analysis=label).merge(fitted.rename(columns={"value": "f"}), on=KEYS)
        after = after.loc[:, [*KEYS, "task", "group", "metric", "f", "delta", "delta_low", "delta_high", "u_correct"]]
        merged = after.rename(columns={"u_correct": "performance"}).merge(
            main, on=[*KEYS, "task", "group", "metric"])
        frames.append(merged.assign(factor=label.removeprefix(RESCALED_PREFIX)))
    out = pd.concat(frames, ignore_index=True).loc[:, RESCALING_COLUMNS]
    return out.sort_values([*KEYS, "factor", "task", "group"]).reset_index(drop=True)


def rank_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, seed, combination, split group (``ID`` test, ``OOD`` = the mean over the OOD splits) and
    aggregation (``pixel``, ``pixel_image``, ``image``): Spearman's ρ between AU and EU (docs/method.md "Open
    questions")."""
    res = check_results(results)
    res = res[(res[ANALYSIS] == RANK) & (res.metric == "spearman")]
    if res.empty:
        return pd.DataFrame(columns=RANK_COLUMNS)
    res = res.assign(group=np.where(res.split == "test", "ID", "OOD"))
    grouped = res.groupby([*KEYS, "group", "aggregation"], sort=True)["value"]
    out = grouped.mean().where(grouped.count() == grouped.size()).rename("rho").reset_index()
    return out.loc[:, RANK_COLUMNS]


def rank_vs_delta(ranks: pd.DataFrame, deltas: pd.DataFrame, aggregation: str = "pixel") -> pd.DataFrame:
    """The ID-test AU–EU ρ (``aggregation``) of each combination next to its Δ per task (OODD on the OOD splits,
    AMB and CAL on the ID test), per dataset and seed. Columns: dataset, seed, au, eu, task, rho, delta."""
    rho = ranks[(ranks.group == "ID") & (ranks.aggregation == aggregation)].loc[:, [*KEYS, "rho"]]
    d = deltas[deltas.group == deltas.task.map(TASK_GROUP)].loc[:, [*KEYS, "task", "delta"]]
    return rho.merge(d, on=KEYS).loc[:, [*KEYS, "task", "rho", "delta"]].reset_index(drop=True)


def ordering_correlation(paired: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and task, Spearman's ρ between the combinations' ordering by AU–EU rank correlation and by Δ
    (seed means); NaN with fewer than three combinations. Columns: dataset, task, combinations, spearman."""
    rows = []
    means = paired.groupby(["dataset", "au", "eu", "task"], sort=True)[["rho", "delta"]].mean().reset_index()
    for (dataset, task), g in means.groupby(["dataset", "task"], sort=True):
        ok = g[np.isfinite(g.rho) & np.isfinite(g.delta)]
        value = float(spearmanr(ok.rho, ok.delta).statistic) if len(ok) >= 3 else np.nan
        rows.append((dataset, task, len(ok), value))
    return pd.DataFrame(rows, columns=["dataset", "task", "combinations", "spearman"])


def rescaling_reading(table: pd.DataFrame) -> str:
    """One paragraph from the numbers: per dataset and factor, the mean Δ of each task before and after rescaling
    (seed means over the combinations and split groups), and plainly whether rescaling reduces entanglement there
    (the mean Δ over tasks rises)."""
    if table.empty:
        return "No rescaled rows: no combination had an EU factor that could be fitted on validation."
    parts = []
    for dataset, d in table.groupby("dataset", sort=True):
        for factor, g in d.groupby("factor", sort=True):
            per_task = g.groupby("task", sort=True)[["delta_main", "delta"]].mean()
            before, after = float(per_task.delta_main.mean()), float(per_task.delta.mean())
            changed = ", ".join(f"{task} {row.delta_main:+.3f} → {row.delta:+.3f}" for task, row in per_task.iterrows())
            verdict = ("does not change entanglement" if abs(after - before) < NO_CHANGE else
                       "reduces entanglement" if after > before else "increases entanglement")
            n = g[["au", "eu"]].drop_duplicates().shape[0]
            median_f = float(g.drop_duplicates(KEYS).f.median())
            parts.append(f"{dataset}, {factor} (median f = {median_f:.3g}, {n} combination(s)): mean Δ {changed}; "
                         f"rescaling {verdict} on {dataset} with this factor")
    return ("Mean Δ per task before → after rescaling EU by the validation factor (over combinations, seeds and "
            "split groups; > 0 = disentangled). OODD and AMB cannot move: their Δ compares EU's AUROC and NCC with "
            "AU's, and both ignore a positive scale of EU; only CAL, whose correct measure is TU' = AU + f·EU, can. "
            + "; ".join(parts) + ".")


def rank_reading(paired: pd.DataFrame, orderings: pd.DataFrame) -> str:
    """One paragraph from the numbers: per dataset the range of the ID-test AU–EU ρ over the combinations and, per
    task, the rank correlation between that ordering and the ordering by Δ."""
    if paired.empty:
        return "No AU–EU rank-correlation rows."
    parts = []
    for dataset, d in paired.groupby("dataset", sort=True):
        rho = d.drop_duplicates(["au", "eu", "seed"]).groupby(["au", "eu"]).rho.mean()
        o = orderings[orderings.dataset == dataset]
        links = ", ".join(f"{r.task} {r.spearman:+.2f}" if np.isfinite(r.spearman) else f"{r.task} n/a"
                          for r in o.itertuples())
        parts.append(f"{dataset}: ρ(AU, EU) from {rho.min():+.2f} to {rho.max():+.2f} over {len(rho)} "
                     f"combination(s) (median {rho.median():+.2f}); Spearman between the ordering by ρ and by Δ: "
                     f"{links}")
    return ("Spearman's ρ between the AU and EU maps over the ID-test pixels (near 1: the two estimates order pixels "
            "alike and cannot carry different information); a negative ordering correlation means combinations "
            "whose AU and EU agree more are more entangled. " + "; ".join(parts) + ".")


def analysis_sections(w: Writer, results: pd.DataFrame, replicates: pd.DataFrame | None = None
                      ) -> list[html.Section]:
    """The report sections of the analyses that left rows in ``results``: a figure, its table and a reading each
    (docs/method.md "Open questions")."""
    from uqseg.report.figures.analyses import plot_rank, plot_rescaling  # local: matplotlib, only with their rows

    sections = []
    rescaled = rescaling_table(results, replicates)
    if len(rescaled):
        png = plot_rescaling(rescaled, w.figures)
        sections.append(w.figure_section(
            "eu-rescaling", "Open question: post-hoc EU rescaling",
            "EU multiplied by a factor f fitted on validation (mean_ratio: mean AU / mean EU; search:<task>: the f "
            "with the best validation performance of TU' = AU + f·EU for that task), TU rebuilt as AU + f·EU; Δ of "
            "every combination before (x) and after (y). Above the diagonal: less entangled after rescaling.",
            rescaled, "analysis_eu_rescaling", png,
            "One point per combination, task and split group, mean over seeds; colour = task.",
            rescaling_reading(rescaled)))
    ranks = rank_table(results)
    if len(ranks):
        paired = rank_vs_delta(ranks, delta_table(results))
        orderings = ordering_correlation(paired)
        w.table(orderings, "analysis_au_eu_rank_orderings")
        png = plot_rank(paired, orderings, w.figures)
        sections.append(w.figure_section(
            "au-eu-rank", "Open question: AU–EU rank correlation",
            "Spearman's ρ between the AU and EU maps of each combination (ID-test pixels) against its Δ per task; "
            "the panel titles give the rank correlation between the two orderings of the combinations.",
            ranks, "analysis_au_eu_rank", png, "One point per combination, mean over seeds.",
            rank_reading(paired, orderings)))
    return sections
