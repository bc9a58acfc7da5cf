"""Tables from the tidy results: Δ per task (docs/method.md §2), task performance, the Table 2 ranks (§3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from uqseg.errors import InputError
from uqseg.metrics import mean_rank_with_ci
from uqseg.metrics.bootstrap import percentile_interval
from uqseg.metrics.delta_rules import ACE_VARIANTS, CORRECT_MEASURE, DELTA_RULES, higher_is_better
from uqseg.metrics.entanglement import entanglement_status, entanglement_values
from uqseg.metrics.ranking import rank_rows
from uqseg.results import analysis_view, replicate_matrix
from uqseg.vocabulary import (
    INVALID,
    KEYS,
    MAIN_ANALYSIS,
    MEASURES,
    TASKS,
    au_label,
    eu_label,
    order_key,
    split_group,
)

AceVariant = str | Mapping[str, str] | None
DELTA_COLUMNS = [*KEYS, "task", "group", "metric", "aggregation", "u_correct", "u_wrong", "wrong_measure", "delta",
                 "u_correct_low", "u_correct_high", "u_wrong_low", "u_wrong_high", "delta_low", "delta_high",
                 "out_of_range", "status"]


def default_ace_variant(dataset: str, ood_splits: Sequence[str]) -> str:
    """The paper's ACE variant (docs/method.md §3 CAL): per-image for Chákṣu-like data, global for LIDC-like data.

    Decided by the name first (`chaksu`/`chákṣu` → per-image, `lidc` → global), otherwise by the OOD splits:
    one OOD split (Chákṣu-like) → `ace_image`, several (LIDC-like shifts) → `ace_global`.
    """
    name = dataset.lower()
    if "chaksu" in name or "chákṣu" in name:
        return "ace_image"
    if "lidc" in name:
        return "ace_global"
    return "ace_image" if len(set(ood_splits)) == 1 else "ace_global"


def _ace_variant(dataset: str, ood_splits: Sequence[str], ace_variant: AceVariant) -> str:
    if ace_variant is None:
        return default_ace_variant(dataset, ood_splits)
    v = ace_variant.get(dataset) if isinstance(ace_variant, Mapping) else ace_variant
    v = v or default_ace_variant(dataset, ood_splits)
    if v not in ACE_VARIANTS:
        raise InputError(f"ace_variant must be one of {ACE_VARIANTS}, got {v!r}")
    return v


@dataclass
class Derived:
    """A `delta_table` and, aligned to its rows, the matrices (rows × R) it was derived from: column 0 is the point
    estimate, columns 1 … B the bootstrap replicates (docs/method.md §3) derived by the same code."""

    frame: pd.DataFrame
    correct: np.ndarray
    wrong: np.ndarray
    delta: np.ndarray

    def matrix(self, kind: str) -> np.ndarray:
        """What `kind` ranks: `u_correct` (performance) or Δ (entanglement)."""
        return self.delta if kind == "entanglement" else self.correct


def _stack(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows `idx` of `values`, NaN rows where idx is −1."""
    out = np.full((idx.size, values.shape[1]), np.nan)
    out[idx >= 0] = values[idx[idx >= 0]]
    return out


def _derive(res: pd.DataFrame, values: np.ndarray, ood_aggregation: str, ace_variant: AceVariant) -> Derived:
    """Δ and its inputs for every column of `values` (one per result row); see `delta_table` for the rules."""
    t = res.assign(group=res.split.map(split_group), _row=np.arange(len(res))).dropna(subset=["group"])
    ood = t[t.group == "OOD"].groupby("dataset").split.unique()
    variant = {d: _ace_variant(d, list(ood.get(d, [])), ace_variant) for d in t.dataset.unique()}
    metric = {task: t.metric.isin(rule.metrics) for task, rule in DELTA_RULES.items()}
    metric["CAL"] = t.metric == t.dataset.map(variant)  # one ACE variant per dataset
    keep = np.zeros(len(t), dtype=bool)
    for task, rule in DELTA_RULES.items():
        rows = (t.task == task) & t.group.isin(rule.groups) & metric[task]
        keep |= rows & (t.aggregation == ood_aggregation) if rule.per_aggregation else rows
    t = t[keep & t.measure.isin(MEASURES)]
    group_keys = [*KEYS, "task", "group", "metric", "aggregation"]
    split_code = t.groupby([*group_keys, "split"], sort=False).ngroup().to_numpy()
    n_splits = int(split_code.max()) + 1 if len(t) else 0
    per_split = {}
    for m in MEASURES:
        idx = np.full(n_splits, -1)
        sel = (t.measure == m).to_numpy()
        idx[split_code[sel]] = t._row.to_numpy()[sel]
        per_split[m] = _stack(values, idx)
    splits = t.drop_duplicates([*group_keys, "split"])
    task = splits.task.to_numpy()
    correct = np.full((len(splits), values.shape[1]), np.nan)
    wrong, chose_eu = correct.copy(), np.zeros(correct.shape, dtype=bool)
    for name, rule in DELTA_RULES.items():
        rows = (task == name)[:, None]
        w, w_is_eu = rule.wrong_value(per_split)
        correct = np.where(rows, per_split[rule.correct], correct)
        wrong, chose_eu = np.where(rows, w, wrong), np.where(rows, w_is_eu, chose_eu)
    group_code = splits.groupby(group_keys, sort=False).ngroup().to_numpy()
    n_groups = int(group_code.max()) + 1 if len(splits) else 0
    count = np.bincount(group_code, minlength=n_groups)[:, None]

    by_group = np.argsort(group_code, kind="stable")
    starts = np.searchsorted(group_code[by_group], np.arange(n_groups))

    def mean(x: np.ndarray) -> np.ndarray:  # over the splits of each group; a NaN anywhere gives NaN
        if n_groups == 0:
            return np.zeros((0, x.shape[1]))
        return np.add.reduceat(x[by_group], starts, axis=0) / count

    frame = splits.drop_duplicates(group_keys).loc[:, group_keys].reset_index(drop=True)
    chose = pd.Series(chose_eu[:, 0] if values.shape[1] else np.zeros(len(splits), dtype=bool))
    share = chose.groupby(group_code).mean().reindex(range(n_groups)).to_numpy()
    frame["wrong_measure"] = np.select([share == 1, share == 0], ["EU", "AU"], "min(AU,EU)")
    u_correct, u_wrong = mean(correct), mean(wrong)
    lower = ~frame.task.map(higher_is_better).to_numpy(dtype=bool)
    return Derived(frame, u_correct, u_wrong, entanglement_values(u_correct, u_wrong, lower[:, None]))


def derive(results: pd.DataFrame, replicates: pd.DataFrame | None = None, *, ood_aggregation: str = "border",
           ace_variant: AceVariant = None, analysis: str = MAIN_ANALYSIS) -> Derived:
    """`delta_table` of the results with, when `replicates` (RUN_DIR/bootstrap.parquet) are given, each bootstrap
    replicate derived alike and the 95 % percentile intervals in columns `*_low`, `*_high` (docs/method.md §3).
    The study's own rows (`analysis == "main"`) by default; another `analysis` (docs/method.md "Open questions")
    puts its rows in place of the main rows they share a key with (`uqseg.results.analysis_view`)."""
    res = analysis_view(results, analysis)
    boot = replicate_matrix(res, replicates)
    d = _derive(res, np.concatenate([res.value.to_numpy(float)[:, None], boot], axis=1), ood_aggregation,
                ace_variant)
    m = d.frame
    m["u_correct"], m["u_wrong"], m["delta"] = d.correct[:, 0], d.wrong[:, 0], d.delta[:, 0]
    for name, x in (("u_correct", d.correct), ("u_wrong", d.wrong), ("delta", d.delta)):
        m[f"{name}_low"], m[f"{name}_high"] = percentile_interval(x[:, 1:])
    m["out_of_range"] = np.isfinite(m.delta) & (m.delta.abs() > 1)
    m["status"] = entanglement_status(m.u_correct, m.u_wrong)
    m["seed"] = m.seed.astype(int)
    order = _order(m)
    frame = m.loc[order, DELTA_COLUMNS].reset_index(drop=True)
    return Derived(frame, d.correct[order], d.wrong[order], d.delta[order])


def delta_table(
    results: pd.DataFrame, replicates: pd.DataFrame | None = None, *, ood_aggregation: str = "border",
    ace_variant: AceVariant = None, analysis: str = MAIN_ANALYSIS,
) -> pd.DataFrame:
    """Δ (docs/method.md §2, paper Eq. 2) per dataset, seed, combination, task and split group (`ID` test or `OOD`).

    Each metric is first averaged over the splits of its group (the OOD splits of LIDC-like data), then Δ is taken:
    OODD uses AUROC with `ood_aggregation` (default `border`, the paper's strategy), EU correct vs AU wrong; AMB uses
    NCC against the annotators, AU correct vs EU wrong; CAL uses ACE (s = −1), TU correct vs the wrong measure
    min(AU ACE, EU ACE) taken on each split and then averaged (the authors' order, docs/method.md §2), with the ACE
    variant from `ace_variant` (a name, a dataset→name mapping, or None for `default_ace_variant`).
    Columns: dataset, seed, au, eu, task, group, metric, aggregation, wrong_measure (`AU`, `EU`, or `min(AU,EU)` when
    the splits differ), u_correct, u_wrong, delta, their 95 % bootstrap intervals `*_low`, `*_high` (NaN without
    `replicates`), out_of_range (|Δ| > 1, e.g. from a negative NCC), status (`ok`, `ok: tie at the origin` where
    both values are 0 and Δ = 0, or why Δ is NaN). The main rows by default; see `derive` for `analysis`.
    """
    return derive(results, replicates, ood_aggregation=ood_aggregation, ace_variant=ace_variant,
                  analysis=analysis).frame


def _order(df: pd.DataFrame) -> np.ndarray:
    key = [order_key(a, e) for a, e in zip(df.au, df.eu, strict=True)]
    task = df.task.map({t: i for i, t in enumerate(TASKS)}).fillna(len(TASKS))
    tmp = pd.DataFrame({"dataset": df.dataset.to_numpy(), "seed": df.seed.to_numpy(), "_t": task.to_numpy(),
                        "group": df.group.to_numpy(), "_k": key})
    return tmp.sort_values(["dataset", "seed", "_t", "group", "_k"], kind="stable").index.to_numpy()


def performance_table(
    results: pd.DataFrame, *, ood_aggregation: str = "border", ace_variant: AceVariant = None
) -> pd.DataFrame:
    """Task performance of the correct measure (docs/method.md §3 Ranking): EU AUROC (↑), AU NCC (↑), TU ACE (↓).

    Same rows and split groups as `delta_table`; columns dataset, seed, au, eu, task, group, metric, aggregation,
    measure, value, higher_is_better (and value_low, value_high when the deltas carry intervals).
    """
    return performance_from_deltas(delta_table(results, ood_aggregation=ood_aggregation, ace_variant=ace_variant))


def performance_from_deltas(d: pd.DataFrame) -> pd.DataFrame:
    """The performance columns of a `delta_table` (see `performance_table`)."""
    out = d[[*KEYS, "task", "group", "metric", "aggregation"]].copy()
    out["measure"] = out.task.map(CORRECT_MEASURE)
    out["value"] = d["u_correct"].astype(float)
    for side in ("low", "high"):
        if f"u_correct_{side}" in d.columns:
            out[f"value_{side}"] = d[f"u_correct_{side}"].astype(float)
    out["higher_is_better"] = out.task.map(higher_is_better).astype(bool)
    return out


def seed_rank_matrix(deltas: pd.DataFrame, values: np.ndarray, kind: str = "performance"
                     ) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-seed ranks (docs/method.md §3) of every column of `values` (rows of the `delta_table` `deltas` × R): the
    rows dataset, seed, au, eu, task of `seed_ranks` and their ranks (rows × R). Column 0 ranks the point estimates;
    the others rank each bootstrap replicate alike."""
    if kind not in ("performance", "entanglement"):
        raise InputError(f"kind must be 'performance' or 'entanglement', got {kind!r}")
    values = np.asarray(values, dtype=float)
    values = values[:, None] if values.ndim == 1 else values
    if values.shape[0] != len(deltas):
        raise InputError(f"values has {values.shape[0]} rows, the deltas {len(deltas)}")
    rows, mats = [], []
    d = deltas.reset_index(drop=True)
    for (dataset, seed), g in d.groupby(["dataset", "seed"], sort=False):
        combo_list = list(dict.fromkeys(zip(g.au, g.eu, strict=True)))
        where = {c: i for i, c in enumerate(combo_list)}
        per_task = {}
        for task in TASKS:
            t = g[g.task == task]
            groups = DELTA_RULES[task].groups
            higher = kind == "entanglement" or higher_is_better(task)
            ranks = []
            for grp in groups:
                sel = t[t.group == grp]
                if sel.empty:
                    continue
                v = np.full((len(combo_list), values.shape[1]), np.nan)
                v[[where[c] for c in zip(sel.au, sel.eu, strict=True)]] = values[sel.index.to_numpy()]
                ranks.append(rank_rows(v.T, higher).T)
            if ranks:
                per_task[task] = np.mean(ranks, axis=0)
        if not per_task:
            continue
        per_task["final"] = np.mean(list(per_task.values()), axis=0)
        for task, r in per_task.items():
            rows += [(dataset, int(seed), au, eu, task) for au, eu in combo_list]
            mats.append(r)
    frame = pd.DataFrame(rows, columns=["dataset", "seed", "au", "eu", "task"])
    return frame, (np.concatenate(mats) if mats else np.zeros((0, values.shape[1])))


def seed_ranks(deltas: pd.DataFrame, kind: str = "performance") -> pd.DataFrame:
    """Per-seed ranks of the combinations (docs/method.md §3): OODD ranks the OOD group; AMB and CAL take
    0.5·rank(ID) + 0.5·rank(OOD) (the one group present when a dataset lacks the other); `final` is the mean over
    the tasks present. `deltas` is a `delta_table`; `kind` is `performance` (ranks `u_correct`: AUROC and NCC
    higher, ACE lower is better) or `entanglement` (ranks Δ, higher is better).
    A combination with a NaN input gets a NaN rank and the others are ranked among themselves.
    Columns: dataset, seed, au, eu, task, rank.
    """
    if kind not in ("performance", "entanglement"):
        raise InputError(f"kind must be 'performance' or 'entanglement', got {kind!r}")
    col = "delta" if kind == "entanglement" else "u_correct"
    frame, ranks = seed_rank_matrix(deltas, deltas[col].to_numpy(float)[:, None], kind)
    return frame.assign(rank=ranks[:, 0] if len(ranks) else np.zeros(0))


def rank_table(
    results: pd.DataFrame, kind: str = "performance", *, ood_aggregation: str = "border",
    ace_variant: AceVariant = None,
) -> pd.DataFrame:
    """Table 2 ranks (docs/method.md §3) of the results: `ranks_from_deltas` of their `delta_table`."""
    return ranks_from_deltas(delta_table(results, ood_aggregation=ood_aggregation, ace_variant=ace_variant), kind)


def ranks_from_deltas(deltas: pd.DataFrame | Derived, kind: str = "performance") -> pd.DataFrame:
    """Per-seed ranks (`seed_ranks`) averaged over seeds with the 95% half-width t(0.975, n−1)·sd/√n
    (docs/method.md §3); 0 for one seed, NaN when a seed's rank is NaN or missing. `ci_low`, `ci_high` give the
    interval: rank ± ci with several seeds; with one seed and a `Derived` carrying bootstrap replicates, the 95 %
    percentile interval of the rank over the replicates; else NaN.
    Columns: dataset, au, eu, task (OODD, AMB, CAL, final), rank, ci, ci_low, ci_high, n_seeds.
    """
    cols = ["dataset", "au", "eu", "task", "rank", "ci", "ci_low", "ci_high", "n_seeds"]
    boot = None
    if isinstance(deltas, Derived):
        if kind not in ("performance", "entanglement"):
            raise InputError(f"kind must be 'performance' or 'entanglement', got {kind!r}")
        sr, mat = seed_rank_matrix(deltas.frame, deltas.matrix(kind), kind)
        sr = sr.assign(rank=mat[:, 0] if len(mat) else np.zeros(0))
        if mat.shape[1] > 1:
            low, high = percentile_interval(mat[:, 1:])
            boot = {(r.dataset, r.au, r.eu, r.task): (lo, hi)
                    for r, lo, hi in zip(sr.itertuples(), low, high, strict=True)}
    else:
        sr = seed_ranks(deltas, kind)
    rows = []
    for (dataset, task), g in sr.groupby(["dataset", "task"], sort=False):
        wide = g.assign(combo=list(zip(g.au, g.eu, strict=True))).pivot(index="seed", columns="combo", values="rank")
        finite = wide.columns[np.isfinite(wide.to_numpy(dtype=float)).all(axis=0)]
        mean, ci = (mean_rank_with_ci(wide[finite].to_numpy(dtype=float)) if len(finite) else ([], []))
        stats = dict(zip(finite, zip(mean, ci, strict=True), strict=True))
        n = int(wide.shape[0])
        for combo in wide.columns:
            m, c = stats.get(combo, (np.nan, np.nan))
            lo, hi = ((m - c, m + c) if n > 1 else (boot or {}).get((dataset, *combo, task), (np.nan, np.nan)))
            rows.append({"dataset": dataset, "au": combo[0], "eu": combo[1], "task": task, "rank": float(m),
                         "ci": float(c), "ci_low": float(lo), "ci_high": float(hi), "n_seeds": n})
    out = pd.DataFrame(rows, columns=cols)
    if out.empty:
        return out
    key = out.apply(lambda r: order_key(r.au, r.eu), axis=1)
    order = {t: i for i, t in enumerate((*TASKS, "final"))}
    return (out.assign(_k=key, _t=out.task.map(order)).sort_values(["dataset", "_t", "_k"])
            .drop(columns=["_k", "_t"]).reset_index(drop=True))


def format_rank(rank: float, ci: float, n_seeds: int, digits: int = 1, low: float = np.nan,
                high: float = np.nan) -> str:
    """`3.5 ± 0.8` with several seeds, `3.5 [2.0, 6.0]` with one seed and a bootstrap interval, `3.5` with one
    seed and none, `—` when undefined."""
    if not np.isfinite(rank):
        return "—"
    if n_seeds > 1 and np.isfinite(ci):
        return f"{rank:.{digits}f} ± {ci:.{digits}f}"
    if n_seeds == 1 and np.isfinite(low) and np.isfinite(high):
        return f"{rank:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"
    return f"{rank:.{digits}f}"


def rank_grid(ranks: pd.DataFrame, dataset: str, task: str = "final", digits: int = 1) -> pd.DataFrame:
    """AU × EU layout of one dataset's ranks (Table 2): formatted cells, `N/A` for softmax + No-EU."""
    r = ranks[(ranks.dataset == dataset) & (ranks.task == task)]
    aus = sorted(set(r.au) | {INVALID[0]}, key=lambda a: (order_key(a, "")[0], a))
    eus = sorted(set(r.eu) | {INVALID[1]}, key=lambda e: (order_key("", e)[1], e))
    cells = {(row.au, row.eu): format_rank(row.rank, row.ci, row.n_seeds, digits, getattr(row, "ci_low", np.nan),
                                           getattr(row, "ci_high", np.nan)) for row in r.itertuples()}
    data = [[("N/A" if (a, e) == INVALID else cells.get((a, e), "—")) for e in eus] for a in aus]
    return pd.DataFrame(data, index=pd.Index([au_label(a) for a in aus], name="AU \\ EU"),
                        columns=[eu_label(e) for e in eus])


def table2(perf_ranks: pd.DataFrame, delta_ranks: pd.DataFrame) -> pd.DataFrame:
    """Paper Table 2 from two `ranks_from_deltas` tables: the final performance rank and Δ rank, AU × EU per
    dataset, in one frame with columns dataset, rank (`performance` or `entanglement`), AU, one column per EU."""
    frames = []
    for kind, ranks in (("performance", perf_ranks), ("entanglement", delta_ranks)):
        for dataset in ranks.dataset.unique():
            g = rank_grid(ranks, dataset).reset_index().rename(columns={"AU \\ EU": "AU"})
            frames.append(g.assign(dataset=dataset, rank=kind))
    if not frames:
        return pd.DataFrame(columns=["dataset", "rank", "AU"])
    t = pd.concat(frames, ignore_index=True)
    first = ["dataset", "rank", "AU"]
    return t[first + [c for c in t.columns if c not in first]].sort_values(["dataset", "rank"], kind="stable")


def to_markdown(df: pd.DataFrame, float_digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table of `df` (index dropped; floats to `float_digits` decimals)."""

    def cell(v: object) -> str:
        if isinstance(v, float | np.floating):
            return "—" if not np.isfinite(v) else f"{v:.{float_digits}f}"
        return str(v).replace("|", "\\|")

    head = "| " + " | ".join(cell(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"
