"""Figure data from the tidy results: seed means with CIs, epistemic collapse, the OOD aggregation ablation,
segmentation quality against task performance, and NCC vs the oracle (docs/method.md §2–§3, paper Fig. 8, 9, A.4),
each from the study's own rows (``analysis == "main"``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from uqseg.report.tables import delta_table, performance_from_deltas
from uqseg.vocabulary import KEYS, STRATEGIES, check_results, main_rows, split_group

GROUP_KEYS = ["dataset", "au", "eu"]


def mean_ci(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, 95% half-width t(0.975, n−1)·sd/√n (0 for one value) and n of the values (docs/method.md §3 Ranking).

    Any NaN makes mean and half-width NaN: a seed that failed is not silently dropped.
    """
    v = np.asarray(values, dtype=float)
    n = int(v.size)
    if n == 0 or not np.isfinite(v).all():
        return float("nan"), float("nan"), n
    if n == 1:
        return float(v[0]), 0.0, 1
    return float(v.mean()), float(student_t.ppf(0.975, n - 1) * v.std(ddof=1) / np.sqrt(n)), n


def over_seeds(df: pd.DataFrame, keys: Sequence[str], value: str) -> pd.DataFrame:
    """`value` averaged over seeds per group of `keys` with columns mean, ci, n_seeds (see `mean_ci`)."""
    rows = [(*(k if isinstance(k, tuple) else (k,)), *mean_ci(g[value].to_numpy()))
            for k, g in df.groupby(list(keys), sort=False)]
    return pd.DataFrame(rows, columns=[*keys, "mean", "ci", "n_seeds"])


def seed_mean(df: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """Mean of `values` over seeds for each group of `keys` (a NaN in any seed gives NaN), with `n_seeds`."""
    g = df.groupby(keys, sort=False)
    out = g[values].agg(lambda v: float(np.mean(v.to_numpy(dtype=float))))
    return out.assign(n_seeds=g.size()).reset_index()


def _grouped(res: pd.DataFrame) -> pd.DataFrame:
    """Rows of the ID test (`ID`) and OOD splits (`OOD`) with a `group` column; train/val rows dropped."""
    return res.assign(group=res.split.map(split_group)).dropna(subset=["group"])


def _group_mean(t: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean of `value` over the splits of each group (a NaN in any split gives NaN)."""
    g = t.groupby(keys, sort=False)["value"]
    return g.mean().where(g.count() == g.size()).rename("value").reset_index()


def collapse_table(results: pd.DataFrame, aggregation: str = "border") -> pd.DataFrame:
    """Epistemic collapse (paper Fig. 8, docs/method.md §3): EU/AU ratio of image scores by `aggregation`, per dataset,
    seed, combination and split group (OOD splits averaged). Columns: dataset, seed, au, eu, group, value."""
    res = _grouped(main_rows(check_results(results)))
    sel = res[(res.task == "COLLAPSE") & (res.metric == "eu_au_ratio") & (res.aggregation == aggregation)]
    return _group_mean(sel, [*KEYS, "group"])


def ablation_table(results: pd.DataFrame, strategies: Sequence[str] = STRATEGIES) -> pd.DataFrame:
    """OOD aggregation ablation (paper Fig. 9): per strategy the OOD-mean AUROC of EU (correct) and AU (wrong) and
    their Δ (docs/method.md §2), per dataset, seed and combination. Columns: dataset, seed, au, eu, strategy, u_correct,
    u_wrong, delta, status."""
    frames = []
    for s in strategies:
        d = delta_table(results, ood_aggregation=s)
        d = d[d.task == "OODD"]
        frames.append(d[[*KEYS, "u_correct", "u_wrong", "delta", "status"]].assign(strategy=s))
    cols = [*KEYS, "strategy", "u_correct", "u_wrong", "delta", "status"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def segmentation_vs_performance(results: pd.DataFrame, deltas: pd.DataFrame) -> pd.DataFrame:
    """ID-test Dice and GED (docs/method.md §3) next to each task's performance (the correct measure's
    value; AMB and CAL on the ID test, OODD on the OOD mean), per dataset, seed and combination.
    Columns: dataset, seed, au, eu, task, performance, dice, ged_dice (GED with d = 1 − Dice, as the authors)."""
    res = main_rows(check_results(results))
    seg = res[(res.task == "SEG") & (res.split == "test") & res.metric.isin(["dice", "ged_dice"])]
    seg = seg.set_index([*KEYS, "metric"])["value"].unstack("metric")
    seg = seg.reindex(columns=["dice", "ged_dice"]).rename_axis(columns=None).reset_index()
    perf = performance_from_deltas(deltas)
    perf = perf[(perf.group == "ID") | (perf.task == "OODD")]
    perf = perf[[*KEYS, "task", "value"]].rename(columns={"value": "performance"})
    return perf.merge(seg, on=list(KEYS), how="inner")[[*KEYS, "task", "performance", "dice", "ged_dice"]]


def oracle_table(results: pd.DataFrame) -> pd.DataFrame:
    """NCC of each measure against the K annotators' variance (`ncc`) and against the exact annotator variance
    (`ncc_oracle`, synthetic data only), per dataset, seed, combination, split group and measure.
    Only datasets with `ncc_oracle` rows appear. Columns: dataset, seed, au, eu, group, measure, ncc, ncc_oracle."""
    res = _grouped(main_rows(check_results(results)))
    amb = res[(res.task == "AMB") & res.metric.isin(["ncc", "ncc_oracle"])]
    with_oracle = amb[amb.metric == "ncc_oracle"].dataset.unique()
    amb = amb[amb.dataset.isin(with_oracle)]
    cols = [*KEYS, "group", "measure", "ncc", "ncc_oracle"]
    if amb.empty:
        return pd.DataFrame(columns=cols)
    m = _group_mean(amb, [*KEYS, "group", "measure", "metric"])
    wide = m.set_index([*KEYS, "group", "measure", "metric"])["value"].unstack("metric")
    return wide.reindex(columns=["ncc", "ncc_oracle"]).rename_axis(columns=None).reset_index()[cols]


def status_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Rows whose value is NaN, counted by dataset, task, metric and status (why the value is missing)."""
    res = main_rows(check_results(results))
    bad = res[~np.isfinite(res.value)]
    cols = ["dataset", "task", "metric", "status", "rows"]
    if bad.empty:
        return pd.DataFrame(columns=cols)
    return bad.groupby(["dataset", "task", "metric", "status"]).size().rename("rows").reset_index()[cols]


def coverage(results: pd.DataFrame, expected: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Per dataset and seed, the expected combinations (`AU+EU`) that have no rows in the results."""
    res = main_rows(check_results(results))
    rows = []
    for (dataset, seed), g in res.groupby(["dataset", "seed"]):
        have = set(zip(g.au, g.eu, strict=True))
        missing = [f"{a}+{e}" for a, e in expected if (a, e) not in have]
        rows.append({"dataset": dataset, "seed": int(seed), "combinations": len(have),
                     "missing": ", ".join(missing) if missing else "none"})
    return pd.DataFrame(rows, columns=["dataset", "seed", "combinations", "missing"])
