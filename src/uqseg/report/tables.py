"""Tables from the tidy results: Δ per task (SPEC §2), task performance, and the Table 2 ranks (SPEC §3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from uqseg.errors import InputError
from uqseg.metrics import entanglement, mean_rank_with_ci, rank_with_ties
from uqseg.report.names import INVALID, TASKS, au_label, eu_label, order_key

RESULT_COLUMNS = ("dataset", "seed", "au", "eu", "split", "task", "measure", "metric", "aggregation", "value", "status")
KEYS = ["dataset", "seed", "au", "eu"]
CORRECT_MEASURE = {"OODD": "EU", "AMB": "AU", "CAL": "TU"}
ACE_VARIANTS = ("ace_global", "ace_image")
AceVariant = str | Mapping[str, str] | None


def check_results(results: pd.DataFrame) -> pd.DataFrame:
    """Validate the tidy results table of conventions.md and return it with `seed` as int and `value` as float."""
    if not isinstance(results, pd.DataFrame):
        raise InputError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    missing = [c for c in RESULT_COLUMNS if c not in results.columns]
    if missing:
        raise InputError(f"results lack columns {missing}; expected {list(RESULT_COLUMNS)}")
    out = results.copy()
    try:
        out["seed"] = out["seed"].astype(int)
        out["value"] = out["value"].astype(float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"results: seed must be integer and value numeric ({exc})") from exc
    return out


def split_group(split: str) -> str | None:
    """`ID` for the ID test split, `OOD` for OOD splits (names starting with `ood`), None for train/val."""
    if split == "test":
        return "ID"
    return "OOD" if split.startswith("ood") else None


def default_ace_variant(dataset: str, ood_splits: Sequence[str]) -> str:
    """The paper's ACE variant (SPEC §3 CAL): per-image for Chákṣu-like data, global for LIDC-like data.

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


def _measure_table(res: pd.DataFrame, ood_aggregation: str, ace_variant: AceVariant) -> pd.DataFrame:
    """One row per dataset, seed, combination, task and split group, with the measures AU, EU, TU as columns.

    Each value is the mean over the splits of its group (SPEC §2: several OOD sets are averaged first); a NaN in any
    of them makes the mean NaN.
    """
    t = res.assign(group=res.split.map(split_group)).dropna(subset=["group"])
    ood = t[t.group == "OOD"].groupby("dataset").split.unique()
    variant = {d: _ace_variant(d, list(ood.get(d, [])), ace_variant) for d in t.dataset.unique()}
    keep = (
        ((t.task == "OODD") & (t.metric == "auroc") & (t.aggregation == ood_aggregation) & (t.group == "OOD"))
        | ((t.task == "AMB") & (t.metric == "ncc"))
        | ((t.task == "CAL") & (t.metric == t.dataset.map(variant)))
    )
    grouped = t[keep].groupby([*KEYS, "task", "group", "metric", "aggregation", "measure"], sort=False)["value"]
    mean = grouped.mean().where(grouped.count() == grouped.size())
    return mean.unstack("measure").reindex(columns=["AU", "EU", "TU"]).rename_axis(columns=None).reset_index()


def _delta(uc: float, uw: float, lower_is_better: bool) -> float:
    return entanglement(uc, uw, lower_is_better) if np.isfinite(uc) and np.isfinite(uw) else float("nan")


def delta_table(
    results: pd.DataFrame, *, ood_aggregation: str = "border", ace_variant: AceVariant = None
) -> pd.DataFrame:
    """Δ (SPEC §2, paper Eq. 2) per dataset, seed, combination, task and split group (`ID` test or `OOD`).

    Each metric is first averaged over the splits of its group (the OOD splits of LIDC-like data), then Δ is taken:
    OODD uses AUROC with `ood_aggregation` (default `border`, the paper's strategy), EU correct vs AU wrong; AMB uses
    NCC against the annotators, AU correct vs EU wrong; CAL uses ACE (s = −1), TU correct vs min(AU ACE, EU ACE)
    wrong, with the ACE variant from `ace_variant` (a name, a dataset→name mapping, or None for
    `default_ace_variant`). These are the rules of `uqseg.metrics.task_entanglement`, vectorised over combinations.
    Columns: dataset, seed, au, eu, task, group, metric, aggregation, u_correct, u_wrong, wrong_measure, delta,
    out_of_range (|Δ| > 1, e.g. from a negative NCC), status.
    """
    m = _measure_table(check_results(results), ood_aggregation, ace_variant)
    cols = [*KEYS, "task", "group", "metric", "aggregation", "u_correct", "u_wrong", "wrong_measure", "delta",
            "out_of_range", "status"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    correct = m.task.map(CORRECT_MEASURE)
    m["u_correct"] = np.select([correct == k for k in ("AU", "EU", "TU")], [m.AU, m.EU, m.TU], np.nan)
    eu_wrong = (m.task == "AMB") | ((m.task == "CAL") & (m.EU < m.AU))
    m["wrong_measure"] = np.where(eu_wrong, "EU", "AU")
    m["u_wrong"] = np.where(eu_wrong, m.EU, m.AU)
    m["delta"] = [_delta(c, w, task == "CAL") for c, w, task in zip(m.u_correct, m.u_wrong, m.task, strict=True)]
    m["out_of_range"] = np.isfinite(m.delta) & (m.delta.abs() > 1)
    m["status"] = np.where(np.isfinite(m.delta), "ok", "undefined: missing or NaN input")
    m["seed"] = m.seed.astype(int)
    return _sorted(m[cols])


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    key = df.apply(lambda r: order_key(r.au, r.eu), axis=1)
    task = df.task.map({t: i for i, t in enumerate(TASKS)}).fillna(len(TASKS))
    tmp = df.assign(_k=key, _t=task)
    return tmp.sort_values(["dataset", "seed", "_t", "group", "_k"]).drop(columns=["_k", "_t"]).reset_index(drop=True)


def performance_table(
    results: pd.DataFrame, *, ood_aggregation: str = "border", ace_variant: AceVariant = None
) -> pd.DataFrame:
    """Task performance of the correct measure (SPEC §3 Ranking): EU AUROC (↑), AU NCC (↑), TU ACE (↓).

    Same rows and split groups as `delta_table`; columns dataset, seed, au, eu, task, group, metric, aggregation,
    measure, value, higher_is_better.
    """
    return performance_from_deltas(delta_table(results, ood_aggregation=ood_aggregation, ace_variant=ace_variant))


def performance_from_deltas(d: pd.DataFrame) -> pd.DataFrame:
    """The performance columns of a `delta_table` (see `performance_table`)."""
    out = d[[*KEYS, "task", "group", "metric", "aggregation"]].copy()
    out["measure"] = out.task.map(CORRECT_MEASURE)
    out["value"] = d["u_correct"].astype(float)
    out["higher_is_better"] = out.task != "CAL"
    return out


def _rank_finite(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """Average-tie ranks (1 = best) among the finite values; NaN values keep a NaN rank."""
    out = pd.Series(np.nan, index=values.index)
    ok = np.isfinite(values.to_numpy(dtype=float))
    if ok.any():
        out[ok] = rank_with_ties(values[ok].to_numpy(dtype=float), higher_is_better)
    return out


def seed_ranks(deltas: pd.DataFrame, kind: str = "performance") -> pd.DataFrame:
    """Per-seed ranks of the combinations (SPEC §3): OODD ranks the OOD group; AMB and CAL take
    0.5·rank(ID) + 0.5·rank(OOD) (the one group present when a dataset lacks the other); `final` is the mean over
    the tasks present. `deltas` is a `delta_table`; `kind` is `performance` (ranks `u_correct`: AUROC and NCC
    higher, ACE lower is better) or `entanglement` (ranks Δ, higher is better).
    A combination with a NaN input gets a NaN rank and the others are ranked among themselves.
    Columns: dataset, seed, au, eu, task, rank.
    """
    if kind not in ("performance", "entanglement"):
        raise InputError(f"kind must be 'performance' or 'entanglement', got {kind!r}")
    d = deltas
    col = "delta" if kind == "entanglement" else "u_correct"
    rows = []
    for (dataset, seed), g in d.groupby(["dataset", "seed"], sort=False):
        per_task = {}
        for task in TASKS:
            t = g[g.task == task]
            groups = ["OOD"] if task == "OODD" else ["ID", "OOD"]
            higher = kind == "entanglement" or task != "CAL"
            ranks = [
                _rank_finite(t[t.group == grp].set_index(["au", "eu"])[col].astype(float), higher)
                for grp in groups if (t.group == grp).any()
            ]
            if ranks:
                per_task[task] = pd.concat(ranks, axis=1).mean(axis=1, skipna=False)
        if not per_task:
            continue
        table = pd.DataFrame(per_task)
        table["final"] = table.mean(axis=1, skipna=False)
        for (au, eu), r in table.iterrows():
            for task, v in r.items():
                rows.append({"dataset": dataset, "seed": int(seed), "au": au, "eu": eu, "task": task, "rank": v})
    return pd.DataFrame(rows, columns=["dataset", "seed", "au", "eu", "task", "rank"])


def rank_table(
    results: pd.DataFrame, kind: str = "performance", *, ood_aggregation: str = "border",
    ace_variant: AceVariant = None,
) -> pd.DataFrame:
    """Table 2 ranks (SPEC §3) of the results: `ranks_from_deltas` of their `delta_table`."""
    return ranks_from_deltas(delta_table(results, ood_aggregation=ood_aggregation, ace_variant=ace_variant), kind)


def ranks_from_deltas(deltas: pd.DataFrame, kind: str = "performance") -> pd.DataFrame:
    """Per-seed ranks (`seed_ranks`) averaged over seeds with the 95% half-width t(0.975, n−1)·sd/√n (SPEC §3);
    0 for one seed, NaN when a seed's rank is NaN or missing.
    Columns: dataset, au, eu, task (OODD, AMB, CAL, final), rank, ci, n_seeds.
    """
    sr = seed_ranks(deltas, kind)
    rows = []
    for (dataset, task), g in sr.groupby(["dataset", "task"], sort=False):
        wide = g.assign(combo=list(zip(g.au, g.eu, strict=True))).pivot(index="seed", columns="combo", values="rank")
        finite = wide.columns[np.isfinite(wide.to_numpy(dtype=float)).all(axis=0)]
        mean, ci = (mean_rank_with_ci(wide[finite].to_numpy(dtype=float)) if len(finite) else ([], []))
        stats = dict(zip(finite, zip(mean, ci, strict=True), strict=True))
        for combo in wide.columns:
            m, c = stats.get(combo, (np.nan, np.nan))
            rows.append({"dataset": dataset, "au": combo[0], "eu": combo[1], "task": task, "rank": float(m),
                         "ci": float(c), "n_seeds": int(wide.shape[0])})
    out = pd.DataFrame(rows, columns=["dataset", "au", "eu", "task", "rank", "ci", "n_seeds"])
    if out.empty:
        return out
    key = out.apply(lambda r: order_key(r.au, r.eu), axis=1)
    order = {t: i for i, t in enumerate((*TASKS, "final"))}
    return (out.assign(_k=key, _t=out.task.map(order)).sort_values(["dataset", "_t", "_k"])
            .drop(columns=["_k", "_t"]).reset_index(drop=True))


def format_rank(rank: float, ci: float, n_seeds: int, digits: int = 1) -> str:
    """`3.5 ± 0.8` with several seeds, `3.5` with one, `—` when undefined."""
    if not np.isfinite(rank):
        return "—"
    if n_seeds > 1 and np.isfinite(ci):
        return f"{rank:.{digits}f} ± {ci:.{digits}f}"
    return f"{rank:.{digits}f}"


def rank_grid(ranks: pd.DataFrame, dataset: str, task: str = "final", digits: int = 1) -> pd.DataFrame:
    """AU × EU layout of one dataset's ranks (Table 2): formatted cells, `N/A` for softmax + No-EU."""
    r = ranks[(ranks.dataset == dataset) & (ranks.task == task)]
    aus = sorted(set(r.au) | {INVALID[0]}, key=lambda a: (order_key(a, "")[0], a))
    eus = sorted(set(r.eu) | {INVALID[1]}, key=lambda e: (order_key("", e)[1], e))
    cells = {(row.au, row.eu): format_rank(row.rank, row.ci, row.n_seeds, digits) for row in r.itertuples()}
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
