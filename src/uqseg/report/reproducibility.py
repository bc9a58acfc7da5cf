"""How reproducible the rankings are (docs/method.md §3 Ranking): Kendall's τ between seeds, Kendall's W over seeds
or over bootstrap replicates, and the combinations that cannot be told apart from the best."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from uqseg.metrics.bootstrap import percentile_interval
from uqseg.metrics.ranking import kendall_w
from uqseg.report.tables import Derived, delta_table, seed_rank_matrix, seed_ranks
from uqseg.vocabulary import TASKS

RANK_TASKS = (*TASKS, "final")
KINDS = ("performance", "entanglement")


def _mean_tau(wide: np.ndarray) -> float:
    """Mean Kendall τ-b over the pairs of rows (seeds) of a seeds × items rank table; NaN with one seed."""
    taus = [kendalltau(a, b).statistic for a, b in combinations(wide, 2)]
    taus = [t for t in taus if np.isfinite(t)]
    return float(np.mean(taus)) if taus else float("nan")


def seed_reproducibility(results_or_deltas: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, task (OODD, AMB, CAL, final) and rank kind (performance, entanglement): the mean Kendall τ
    between the seed pairs' rankings of the combinations and Kendall's W over the seeds (tie-corrected), both over
    the combinations ranked in every seed (docs/method.md §3). Takes a results table or its `delta_table`.
    Columns: dataset, task, kind, n_seeds, n_combinations, mean_tau, kendall_w (NaN with one seed).
    """
    d = results_or_deltas if "delta" in results_or_deltas.columns else delta_table(results_or_deltas)
    rows = []
    for kind in KINDS:
        sr = seed_ranks(d, kind)
        for (dataset, task), g in sr.groupby(["dataset", "task"], sort=False):
            wide = g.pivot_table(index="seed", columns=["au", "eu"], values="rank", dropna=False).to_numpy(float)
            wide = wide[:, np.isfinite(wide).all(0)]
            n = wide.shape[0]
            rows.append({"dataset": dataset, "task": task, "kind": kind, "n_seeds": n, "n_combinations":
                         wide.shape[1], "mean_tau": _mean_tau(wide) if n > 1 else float("nan"),
                         "kendall_w": kendall_w(wide) if n > 1 else float("nan")})
    return _ordered(pd.DataFrame(rows, columns=["dataset", "task", "kind", "n_seeds", "n_combinations", "mean_tau",
                                                "kendall_w"]))


def bootstrap_concordance(derived: Derived) -> pd.DataFrame:
    """Per dataset, seed, task and rank kind: Kendall's W of the combinations' ranks over the bootstrap replicates
    (the one-seed stand-in for W over seeds: how stable the ranking is when the test images are resampled).
    Columns: dataset, seed, task, kind, replicates, kendall_w (NaN without replicates)."""
    rows = []
    for kind in KINDS:
        frame, ranks = seed_rank_matrix(derived.frame, derived.matrix(kind), kind)
        for (dataset, seed, task), g in frame.groupby(["dataset", "seed", "task"], sort=False):
            r = ranks[g.index.to_numpy(), 1:]
            r = r[np.isfinite(r).all(1)].T
            rows.append({"dataset": dataset, "seed": int(seed), "task": task, "kind": kind, "replicates": r.shape[0],
                         "kendall_w": kendall_w(r) if r.shape[0] > 1 else float("nan")})
    return _ordered(pd.DataFrame(rows, columns=["dataset", "seed", "task", "kind", "replicates", "kendall_w"]))


def indistinguishable(derived: Derived, level: float = 0.95) -> pd.DataFrame:
    """Per dataset, task, split group and rank kind: the best combination (seed-mean value: higher AUROC, NCC and
    Δ, lower ACE) and the others whose paired bootstrap difference to it has a `level` interval containing 0
    (docs/method.md §3). Every combination of a dataset and seed shares the resamples, so the difference is
    resampled pairwise; with several seeds each replicate is averaged over the seeds first (the interval then
    reflects the test images only, not the training seeds).
    Columns: dataset, task, group, kind, best, tied (comma-separated `au+eu`), n_tied."""
    rows = []
    frame = derived.frame
    for kind in KINDS:
        mat = derived.matrix(kind)
        if mat.shape[1] < 2:
            continue
        for (dataset, task, group), g in frame.groupby(["dataset", "task", "group"], sort=False):
            combo = (g.au + "+" + g.eu).to_numpy()
            names = list(dict.fromkeys(combo))
            mean = np.stack([mat[g.index.to_numpy()[combo == c]].mean(0) for c in names])
            finite = np.isfinite(mean[:, 0])
            if not finite.any():
                continue
            sign = -1.0 if (task == "CAL" and kind == "performance") else 1.0
            best = int(np.nanargmax(sign * np.where(finite, mean[:, 0], np.nan)))
            low, high = percentile_interval(mean[:, 1:] - mean[best, 1:], level)
            tied = [names[i] for i in range(len(names)) if i != best and low[i] <= 0 <= high[i]]
            rows.append({"dataset": dataset, "task": task, "group": group, "kind": kind, "best": names[best],
                         "tied": ", ".join(tied) or "none", "n_tied": len(tied)})
    return pd.DataFrame(rows, columns=["dataset", "task", "group", "kind", "best", "tied", "n_tied"])


def resolved_pairs(derived: Derived, level: float = 0.95) -> pd.DataFrame:
    """Where the seed-to-seed disagreement of a ranking lies (docs/method.md §3 Ranking). Within one seed, a pair of
    combinations is *resolved* when the `level` percentile interval of their rank difference over the bootstrap
    replicates of the test images excludes 0. Between two seeds, a pair is discordant when the seeds order it
    differently. A discordance on a pair resolved in both seeds is a real effect of the training seed; one on a pair
    unresolved in either seed may be test-image noise alone.
    Per dataset, task and rank kind: n_seeds, n_pairs; resolved (mean share of pairs resolved in a seed); tau_all
    and tau_resolved (mean over seed pairs of the pairwise concordance (C − D)/(C + D), over all pairs and over the
    pairs resolved in both seeds; with untied ranks tau_all is Kendall's τ-a); unresolved_discordance (share of
    the discordant orderings that fall on pairs unresolved in either seed). NaN without replicates or with one seed.
    """
    rows = []
    for kind in KINDS:
        frame, ranks = seed_rank_matrix(derived.frame, derived.matrix(kind), kind)
        for (dataset, task), g in frame.groupby(["dataset", "task"], sort=False):
            combos = list(dict.fromkeys(zip(g.au, g.eu, strict=True)))
            seeds = sorted(set(g.seed))
            cube = np.full((len(seeds), len(combos), ranks.shape[1]), np.nan)
            cube[[seeds.index(s) for s in g.seed], [combos.index(c) for c in zip(g.au, g.eu, strict=True)]] = \
                ranks[g.index.to_numpy()]
            cube = cube[:, np.isfinite(cube[..., 0]).all(0)]
            rows.append({"dataset": dataset, "task": task, "kind": kind, "n_seeds": len(seeds),
                         **_pair_agreement(cube, level)})
    cols = ["dataset", "task", "kind", "n_seeds", "n_pairs", "resolved", "tau_all", "tau_resolved",
            "unresolved_discordance"]
    return _ordered(pd.DataFrame(rows, columns=cols))


def _pair_agreement(cube: np.ndarray, level: float) -> dict[str, float]:
    """`resolved_pairs`'s figures for one seeds × combinations × (1 + B) rank cube (column 0: point ranks)."""
    n_seeds, n_items, width = cube.shape
    i, j = np.triu_indices(n_items, 1)
    out = {"n_pairs": len(i), "resolved": np.nan, "tau_all": np.nan, "tau_resolved": np.nan,
           "unresolved_discordance": np.nan}
    if n_seeds < 2 or width < 2 or len(i) == 0:
        return out
    diff = cube[:, i] - cube[:, j]
    low, high = percentile_interval(diff[..., 1:].reshape(-1, width - 1), level)
    resolved = ((low > 0) | (high < 0)).reshape(n_seeds, len(i))
    sign = np.sign(diff[..., 0])
    a, b = np.triu_indices(n_seeds, 1)
    product = sign[a] * sign[b]
    both = resolved[a] & resolved[b]
    discordant = product < 0

    def concordance(mask: np.ndarray) -> float:
        taus = [(p[m] > 0).sum() - (p[m] < 0).sum() for p, m in zip(product, mask, strict=True)]
        counts = [(p[m] != 0).sum() for p, m in zip(product, mask, strict=True)]
        valid = [t / c for t, c in zip(taus, counts, strict=True) if c]
        return float(np.mean(valid)) if valid else np.nan

    total = discordant.sum()
    out.update(resolved=float(resolved.mean()), tau_all=concordance(np.ones_like(both)),
               tau_resolved=concordance(both),
               unresolved_discordance=float((discordant & ~both).sum() / total) if total else np.nan)
    return out

def variance_components(derived: Derived) -> pd.DataFrame:
    """Why a ranking does or does not reproduce (docs/method.md "Statistical reporting"): per dataset, task, split
    group and rank kind, the value that is ranked (performance: the correct measure; entanglement: Δ), split by a
    one-way random-effects analysis over combinations × seeds into the spread between combinations and the spread
    of one combination over the training seeds, and the latter's part that test-image sampling alone explains (the
    mean bootstrap variance). ``icc`` = σ²_combination / (σ²_combination + σ²_seed) is the correlation of two seeds'
    values across the combinations; for normal values the expected Kendall τ between two seeds' rankings is
    (2/π)·arcsin(icc). Columns: dataset, task, group, kind, n_seeds, n_combinations, sd_combination, sd_seed,
    sd_test_images, icc, expected_tau (NaN with one seed)."""
    rows = []
    for kind in KINDS:
        mat = derived.matrix(kind)
        frame = derived.frame.assign(_row=np.arange(len(derived.frame)))
        for (dataset, task, group), g in frame.groupby(["dataset", "task", "group"], sort=False):
            index = g.pivot_table(index=["au", "eu"], columns="seed", values="_row", aggfunc="first").to_numpy(float)
            index = index[np.isfinite(index).all(1)].astype(int)
            index = index[np.isfinite(mat[index, 0]).all(1)]
            values, boot = mat[index, 0], mat[index, 1:]
            rows.append({"dataset": dataset, "task": task, "group": group, "kind": kind,
                         **_components(values, boot)})
    cols = ["dataset", "task", "group", "kind", "n_seeds", "n_combinations", "sd_combination", "sd_seed",
            "sd_test_images", "icc", "expected_tau"]
    return _ordered(pd.DataFrame(rows, columns=cols))


def _components(values: np.ndarray, boot: np.ndarray) -> dict[str, float]:
    """`variance_components`'s figures for combinations × seeds ``values`` and their combinations × seeds × B
    bootstrap replicates."""
    n_items, n_seeds = values.shape
    out = {"n_seeds": n_seeds, "n_combinations": n_items, "sd_combination": np.nan, "sd_seed": np.nan,
           "sd_test_images": np.nan, "icc": np.nan, "expected_tau": np.nan}
    if n_seeds < 2 or n_items < 2:
        return out
    within = float(values.var(1, ddof=1).mean())
    between = float(values.mean(1).var(ddof=1)) - within / n_seeds
    combination = max(between, 0.0)
    icc = combination / (combination + within) if combination + within > 0 else np.nan
    test = np.nanmean(boot.var(-1, ddof=1)) if boot.shape[-1] > 1 else np.nan
    out.update(sd_combination=float(np.sqrt(combination)), sd_seed=float(np.sqrt(within)),
               sd_test_images=float(np.sqrt(test)) if np.isfinite(test) else np.nan, icc=float(icc),
               expected_tau=float(2 / np.pi * np.arcsin(icc)) if np.isfinite(icc) else np.nan)
    return out


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    order = {t: i for i, t in enumerate(RANK_TASKS)}
    keys = [c for c in ("dataset", "kind", "seed") if c in df.columns]
    return (df.assign(_t=df.task.map(order)).sort_values([*keys, "_t"], kind="stable").drop(columns="_t")
            .reset_index(drop=True))


__all__ = ["bootstrap_concordance", "indistinguishable", "resolved_pairs", "seed_reproducibility",
           "variance_components"]
