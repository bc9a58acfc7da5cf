"""The report's warning banner: when a run is too small for its ranks to mean anything (docs/method.md
"Statistical reporting").

Two rules, each stated in the banner it raises:

- Undertrained models. The evaluated weights are an EMA of the trained ones (decay d, docs/method.md §7); after n
  optimiser steps the initial, random weights still carry d^n of it. When that share exceeds ``MAX_INITIAL_SHARE``
  for some dataset, or the preset is ``tiny``, the models have barely moved from their initialisation.
- Indistinguishable ranks. For every dataset, task, split group and rank kind the report lists the combinations
  whose paired-bootstrap 95% interval of the difference to the best one contains 0 (``indistinguishable``). When in
  at least ``MAX_TIED_SHARE`` of these comparisons every combination is tied with the best, the ranks are not
  distinguishable.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

#: The EMA share of the initial weights above which a model counts as untrained.
MAX_INITIAL_SHARE = 0.5
#: The share of comparisons with every combination tied with the best above which ranks are not distinguishable.
MAX_TIED_SHARE = 0.5
DEFAULT_EMA_DECAY = 0.999


def initial_weight_share(cfg: dict[str, Any]) -> dict[str, tuple[int, float]]:
    """Per dataset of a resolved config: (optimiser steps, EMA share d^steps of the initial weights), from
    ``train.epochs``, ``train.batch_size``, ``train.limit_train_batches``, ``train.ema_decay`` and the dataset's
    ``options.n_train``; datasets without ``n_train`` are left out."""
    train = cfg.get("train") or {}
    decay = float(train.get("ema_decay", DEFAULT_EMA_DECAY))
    epochs, batch = int(train.get("epochs", 0) or 0), int(train.get("batch_size", 0) or 0)
    limit = train.get("limit_train_batches")
    out = {}
    for name, spec in (cfg.get("datasets") or {}).items():
        n_train = ((spec or {}).get("options") or {}).get("n_train")
        if not n_train or batch < 1:
            continue
        batches = math.ceil(int(n_train) / batch)
        if isinstance(limit, int) and limit > 0:
            batches = min(batches, limit)
        elif isinstance(limit, float) and 0 < limit <= 1:
            batches = max(1, int(batches * limit))
        steps = epochs * batches
        out[name] = (steps, decay**steps)
    return out


def undertrained(cfg: dict[str, Any]) -> str | None:
    """The banner text when the run's models barely moved from their initial weights, else None."""
    shares = initial_weight_share(cfg)
    worst = max(shares.items(), key=lambda kv: kv[1][1], default=None)
    tiny = cfg.get("name") == "tiny"
    if not tiny and (worst is None or worst[1][1] <= MAX_INITIAL_SHARE):
        return None
    what = "This run uses the tiny preset, a smoke test. " if tiny else ""
    if worst is not None:
        name, (steps, share) = worst
        decay = float((cfg.get("train") or {}).get("ema_decay", DEFAULT_EMA_DECAY))
        what += (f"Its models barely move from their initial weights: on {name} they train for {steps} optimiser "
                 f"steps, and the evaluated EMA weights (decay {decay:g}) are still {share:.1%} the random "
                 f"initialisation (rule: more than {MAX_INITIAL_SHARE:.0%}). ")
    return what + "Its numbers test the pipeline; they support no conclusion about the methods."


def tied_ranks(tied: pd.DataFrame, deltas: pd.DataFrame) -> str | None:
    """The banner text when the bootstrap intervals leave the ranks indistinguishable, else None.

    ``tied`` is ``uqseg.report.reproducibility.indistinguishable``'s table, ``deltas`` the Δ frame it came from
    (columns dataset, au, eu).
    """
    if tied.empty or deltas.empty:
        return None
    n_combos = deltas.assign(combo=deltas.au + "+" + deltas.eu).groupby("dataset").combo.nunique()
    if int(n_combos.max()) < 2:
        return None
    everyone = tied.n_tied.to_numpy() >= tied.dataset.map(n_combos).to_numpy() - 1
    share = float(everyone.mean())
    if share < MAX_TIED_SHARE:
        return None
    return (f"The ranks are not distinguishable: in {int(everyone.sum())} of {len(tied)} comparisons (dataset × task "
            "× split group × performance or Δ), every combination lies within the 95% paired-bootstrap interval of "
            f"the best one (rule: at least {MAX_TIED_SHARE:.0%} of the comparisons). Read the ranks below as ties; "
            "more test images or seeds would separate them.")
