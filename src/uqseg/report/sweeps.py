"""The sweeps' tables and readings (docs/method.md "Entanglement versus shift severity, model size and training"):
Δ, AUROC, task performance and the EU/AU ratio per sweep level, from the rows of ``results.parquet`` alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from uqseg.metrics.entanglement import entanglement_values
from uqseg.report import html
from uqseg.report.disentanglement import disentanglement_section
from uqseg.report.figures.sweeps import plot_epoch, plot_severity, plot_width
from uqseg.report.tables import delta_table
from uqseg.report.writer import Writer
from uqseg.results import check_results
from uqseg.vocabulary import ANALYSIS, KEYS

SEVERITY_PREFIX, WIDTH_PREFIX, EPOCH_PREFIX = "severity:", "width:", "epoch:"
SEVERITY_COLUMNS = [*KEYS, "split", "severity", "eu_auroc", "au_auroc", "delta"]
WIDTH_COLUMNS = [*KEYS, "factor", "parameters", "eu_au_ratio", "task", "delta"]
EPOCH_COLUMNS = [*KEYS, "epochs", "task", "performance", "delta"]


def severity_table(results: pd.DataFrame, aggregation: str = "border") -> pd.DataFrame:
    """Per dataset, seed, combination, OOD split and severity level: EU (correct) and AU (wrong) image-level OOD
    AUROC with ``aggregation`` and their Δ (docs/method.md §2), from the ``severity:<split>:<level>`` rows."""
    res = check_results(results)
    res = res[res[ANALYSIS].str.startswith(SEVERITY_PREFIX) & (res.task == "OODD") & (res.metric == "auroc")
              & (res.aggregation == aggregation) & res.measure.isin(["EU", "AU"])]
    if res.empty:
        return pd.DataFrame(columns=SEVERITY_COLUMNS)
    wide = res.pivot_table(index=[*KEYS, "split", ANALYSIS], columns="measure", values="value").reset_index()
    wide["severity"] = wide[ANALYSIS].str.rsplit(":", n=1).str[1].astype(float)
    wide = wide.rename(columns={"EU": "eu_auroc", "AU": "au_auroc"})
    wide["delta"] = entanglement_values(wide.eu_auroc, wide.au_auroc)
    return wide.loc[:, SEVERITY_COLUMNS].sort_values([*KEYS, "split", "severity"]).reset_index(drop=True)


def _level_deltas(res: pd.DataFrame, label: str) -> pd.DataFrame:
    """Δ and the correct measure's value of the combinations with ``label`` rows: AMB and CAL on the ID test, OODD
    on the OOD mean (docs/method.md §2)."""
    combos = res.loc[(res[ANALYSIS] == label) & (res.task != "EPOCH"), KEYS].drop_duplicates()  # EPOCH: no metrics
    deltas = delta_table(res, analysis=label).merge(combos, on=KEYS)
    deltas = deltas[(deltas.group == "ID") | (deltas.task == "OODD")]
    return deltas.loc[:, [*KEYS, "task", "u_correct", "delta"]].rename(columns={"u_correct": "performance"})


def width_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, seed, combination, width factor and task: one network's parameter count, the ID-test EU/AU
    ratio (border aggregation, paper Fig. 8) and the ID-test Δ (OODD: the OOD mean), from the ``width:<factor>``
    rows."""
    res = check_results(results)
    frames = []
    for label in sorted(a for a in res[ANALYSIS].unique() if a.startswith(WIDTH_PREFIX)):
        rows = res[res[ANALYSIS] == label]
        size = rows[(rows.task == "SIZE") & (rows.metric == "parameters")].loc[:, [*KEYS, "value"]]
        ratio = rows[(rows.task == "COLLAPSE") & (rows.metric == "eu_au_ratio") & (rows.aggregation == "border")
                     & (rows.split == "test")].loc[:, [*KEYS, "value"]]
        frame = (_level_deltas(res, label).merge(size.rename(columns={"value": "parameters"}), on=KEYS, how="left")
                 .merge(ratio.rename(columns={"value": "eu_au_ratio"}), on=KEYS, how="left"))
        frames.append(frame.assign(factor=float(label.removeprefix(WIDTH_PREFIX))))
    if not frames:
        return pd.DataFrame(columns=WIDTH_COLUMNS)
    out = pd.concat(frames, ignore_index=True).loc[:, WIDTH_COLUMNS]
    return out.sort_values([*KEYS, "task", "factor"]).reset_index(drop=True)


def epoch_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, seed, combination, training length (epochs) and task: the correct measure's performance and Δ,
    from the ``epoch:<n>`` rows (AMB and CAL on the ID test, OODD on the OOD mean)."""
    res = check_results(results)
    frames = [_level_deltas(res, label).assign(epochs=int(label.removeprefix(EPOCH_PREFIX)))
              for label in res[ANALYSIS].unique() if label.startswith(EPOCH_PREFIX)]
    if not frames:
        return pd.DataFrame(columns=EPOCH_COLUMNS)
    out = pd.concat(frames, ignore_index=True).loc[:, EPOCH_COLUMNS]
    return out.sort_values([*KEYS, "task", "epochs"]).reset_index(drop=True)


def _mean(df: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    return df.groupby(keys, sort=True)[values].mean().reset_index()


def severity_reading(table: pd.DataFrame) -> str:
    """One paragraph from the numbers: per OOD split, how many combinations have Δ > 0 (EU beats AU at detecting
    the shift) at the lowest and the highest severity, and the first severity where most of them do."""
    if table.empty:
        return "No severity-sweep rows: the sweep found no generated dataset with OOD shift severities."
    means = _mean(table, ["dataset", "au", "eu", "split", "severity"], ["delta"])
    parts = []
    for (dataset, split), g in means.groupby(["dataset", "split"], sort=True):
        levels = sorted(g.severity.unique())
        share = [float((g[g.severity == s].delta.round(12) > 0).mean()) for s in levels]  # a tie is no win
        first = next((s for s, f in zip(levels, share, strict=True) if f > 0.5), None)
        n = g[["au", "eu"]].drop_duplicates().shape[0]
        where = (f"most first do at severity {first:g}" if first is not None
                 else "at no level do most")
        parts.append(f"{dataset} {split}: Δ > 0 for {share[0]:.0%} of {n} combination(s) at severity "
                     f"{levels[0]:g} and {share[-1]:.0%} at {levels[-1]:g}; {where}")
    return ("Where the correct measure (EU) starts to beat the wrong one (AU) at OOD detection as the shift grows, "
            "mean Δ over seeds: " + "; ".join(parts) + ".")


def _trend(x: np.ndarray, y: np.ndarray) -> str:
    if len(x) < 2 or not np.isfinite(y).all():
        return "no trend (fewer than two finite levels)"
    rank = pd.Series(x).rank().to_numpy()
    rho = float(np.corrcoef(rank, pd.Series(y).rank().to_numpy())[0, 1]) if np.std(y) > 0 else 0.0
    return f"{y[0]:.3g} → {y[-1]:.3g} (Spearman ρ = {rho:+.2f})"


def width_reading(table: pd.DataFrame) -> str:
    """One paragraph from the numbers: per dataset and combination, how the EU/AU ratio and each task's Δ move from
    the smallest to the largest network (first → last level, Spearman ρ against the parameter count)."""
    if table.empty:
        return "No width-sweep rows."
    means = _mean(table, ["dataset", "au", "eu", "task", "factor"], ["parameters", "eu_au_ratio", "delta"])
    parts = []
    for (dataset, au, eu), g in means.groupby(["dataset", "au", "eu"], sort=True):
        one = g.drop_duplicates("factor").sort_values("parameters")
        text = [f"EU/AU {_trend(one.parameters.to_numpy(), one.eu_au_ratio.to_numpy(float))}"]
        for task, t in g.groupby("task", sort=True):
            t = t.sort_values("parameters")
            text.append(f"Δ {task} {_trend(t.parameters.to_numpy(), t.delta.to_numpy(float))}")
        params = one.parameters.to_numpy(float)
        parts.append(f"{dataset} {au}+{eu} ({params.min():,.0f} → {params.max():,.0f} parameters): "
                     + ", ".join(text))
    return ("From the smallest to the largest network, mean over seeds (ρ > 0: grows with the size; an EU/AU ratio "
            "that grows means less epistemic collapse): " + "; ".join(parts) + ".")


def epoch_reading(table: pd.DataFrame) -> str:
    """One paragraph from the numbers: per dataset and combination, how each task's performance and Δ move from the
    shortest to the longest training (first → last level, Spearman ρ against the epochs)."""
    if table.empty:
        return "No epoch-sweep rows."
    means = _mean(table, ["dataset", "au", "eu", "task", "epochs"], ["performance", "delta"])
    parts = []
    for (dataset, au, eu), g in means.groupby(["dataset", "au", "eu"], sort=True):
        text = []
        for task, t in g.groupby("task", sort=True):
            x = t.epochs.to_numpy(float)
            text.append(f"{task} performance {_trend(x, t.performance.to_numpy(float))}, "
                        f"Δ {_trend(x, t.delta.to_numpy(float))}")
        parts.append(f"{dataset} {au}+{eu} ({g.epochs.min()} → {g.epochs.max()} epochs): " + "; ".join(text))
    return ("From the shortest to the longest training, mean over seeds (ρ > 0: grows with training; CAL "
            "performance is an ACE, lower is better): " + " | ".join(parts) + ".")


def epoch_gaps(results: pd.DataFrame) -> str:
    """The epoch levels that have no metrics, with the reason their ``EPOCH`` row gives (a SWAG snapshot taken
    before collection starts has no posterior); empty when there are none."""
    res = check_results(results)
    gaps = res[res[ANALYSIS].str.startswith(EPOCH_PREFIX) & (res.task == "EPOCH")]
    if gaps.empty:
        return ""
    parts = [f"{dataset} {au}+{eu} at {', '.join(sorted({a.removeprefix(EPOCH_PREFIX) for a in g[ANALYSIS]}, key=int))}"
             f" epochs" for (dataset, au, eu), g in gaps.groupby(["dataset", "au", "eu"], sort=True)]
    return (" Not evaluated, since the snapshot holds no SWAG posterior yet (SWAG collects over the last epochs and "
            "needs two collected epochs): "
            + "; ".join(parts) + ".")


def sweep_sections(w: Writer, results: pd.DataFrame) -> list[html.Section]:
    """The report sections of the sweeps that left rows in ``results``: a figure, its table and a reading each."""
    sections = []
    severity = severity_table(results)
    if len(severity):
        sections.append(w.figure_section(
            "sweep-severity", "Open question: entanglement versus shift severity",
            "Each synthetic OOD shift at several severities, predicted by the study's trained models: EU (correct) "
            "and AU (wrong) image-level OOD AUROC (border aggregation) and their Δ; where Δ crosses 0 the correct "
            "measure starts to win.",
            severity, "sweep_severity", plot_severity(severity, w.figures),
            "Mean over seeds per combination; severity 1 is the paper's shift.", severity_reading(severity)))
    width = width_table(results)
    if len(width):
        sections.append(w.figure_section(
            "sweep-width", "Open question: entanglement versus model size",
            "The chosen combinations retrained at several base widths: the ID-test EU/AU ratio (epistemic collapse, "
            "as Fig. 8) and each task's Δ (OODD on the OOD mean, AMB and CAL on the ID test) against one network's "
            "parameter count.",
            width, "sweep_width", plot_width(width, w.figures), "Mean over seeds per combination.",
            width_reading(width)))
    epochs = epoch_table(results)
    if len(epochs):
        sections.append(w.figure_section(
            "sweep-epoch", "Open question: entanglement over training",
            "Snapshots of one training run per combination and seed, taken after several epochs (EMA weights, the "
            "SWAG moments collected so far, every ensemble member at the same epoch): each task's Δ (top) and the "
            "correct measure's performance (bottom; NCC for AMB, ACE for CAL, lower is better, AUROC for OODD) "
            "against the epochs.",
            epochs, "sweep_epoch", plot_epoch(epochs, w.figures), "Mean over seeds per combination.",
            epoch_reading(epochs) + epoch_gaps(results)))
    disentanglement = disentanglement_section(w, results)
    if disentanglement is not None:
        sections.append(disentanglement)
    return sections
