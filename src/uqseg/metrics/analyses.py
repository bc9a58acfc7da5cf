"""Result rows of the open-question analyses beside the evaluator's (docs/method.md "Open questions").

``AnalysisHook`` takes the same batches as ``uqseg.metrics.Evaluator`` (``add_validation``, then ``add``) and
returns tidy rows with an ``analysis`` column naming the analysis:

- ``au_eu_rank``: Spearman's ρ between AU and EU per evaluated split (task ``RANKCORR``, measure ``AU~EU``, metric
  ``spearman``, aggregation ``pixel``, ``pixel_image`` or ``image``);
- ``eu_rescaled:<name>``: the evaluator's TU and EU rows (and the EU/AU collapse ratio) for the rescaled maps
  TU' = AU + f·EU, EU' = f·EU, with the factor itself as a row (split ``val``, task ``RESCALE``, metric
  ``eu_factor``). f must be known before validation is streamed: ``mean_ratio_factor`` computes the paper's
  factor in a first pass over the validation maps. The maps go to that evaluator divided by 1 + f
  (``rescaled_batch(normalise=True)``), which changes none of its metrics and keeps them inside its histogram
  range.

``with_analysis`` labels the evaluator's own rows ``main``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from uqseg.errors import InputError
from uqseg.metrics.batch import EvalBatch, as_batch
from uqseg.metrics.evaluator import Evaluator
from uqseg.metrics.rank_correlation import RankCorrelation
from uqseg.metrics.rescaling import MeanRatio, rescaled_batch

MAIN = "main"
RANK = "au_eu_rank"
RESCALED = "eu_rescaled"
COLUMNS = ["analysis", "split", "task", "measure", "metric", "aggregation", "value", "status"]


def with_analysis(table: pd.DataFrame, analysis: str = MAIN) -> pd.DataFrame:
    """The evaluator's tidy table with an ``analysis`` column in front (docs/method.md "Open questions")."""
    return table.assign(analysis=analysis).loc[:, [*COLUMNS, *(c for c in table.columns if c not in COLUMNS)]]


def mean_ratio_factor(batches: Iterable[EvalBatch | Mapping[str, Any]]) -> float:
    """The paper's EU factor, mean AU / mean EU over the validation batches' pixels (docs/method.md "Open
    questions"); each batch needs ``au`` and ``eu``."""
    ratio = MeanRatio()
    for batch in batches:
        b = as_batch(batch)
        ratio.add(b.au, b.eu)
    return ratio.factor()


class AnalysisHook:
    """Streams the evaluator's batches into the rank correlation and, when ``eu_factor`` is given, an evaluator of
    the rescaled maps (docs/method.md "Open questions")."""

    def __init__(self, num_classes: int, *, ood_splits: Sequence[str], id_split: str = "test",
                 eu_factor: float | None = None, factor_name: str = "mean_ratio", rank_pixels: int = 1_000_000,
                 seed: int = 0) -> None:
        if eu_factor is not None and not (np.isfinite(eu_factor) and eu_factor > 0):
            raise InputError(f"eu_factor must be finite and > 0, got {eu_factor}")
        self.id_split, self.ood_splits = id_split, list(ood_splits)
        self.eu_factor, self.factor_name = eu_factor, factor_name
        self._rank = {s: RankCorrelation(rank_pixels, seed) for s in [id_split, *self.ood_splits]}
        self._rescaled = None if eu_factor is None else Evaluator(num_classes, ood_splits=ood_splits,
                                                                   id_split=id_split)

    def add_validation(self, batch: EvalBatch | Mapping[str, Any]) -> None:
        """Stream one validation batch (the rescaled evaluator fits its Platt (a, b) and τ of TU' and EU' on it)."""
        if self._rescaled is not None:
            self._rescaled.add_validation(rescaled_batch(batch, self.eu_factor, normalise=True))

    def add(self, split: str, batch: EvalBatch | Mapping[str, Any]) -> None:
        """Stream one batch of the ID test split or an OOD split."""
        if split not in self._rank:
            raise InputError(f"split {split!r} is neither id_split nor one of ood_splits")
        b = as_batch(batch)
        self._rank[split].add(b.au, b.eu)
        if self._rescaled is not None:
            self._rescaled.add(split, rescaled_batch(b, self.eu_factor, normalise=True))

    def results(self) -> pd.DataFrame:
        """Tidy rows with columns analysis, split, task, measure, metric, aggregation, value, status."""
        rows = []
        for split, rc in self._rank.items():
            if rc.images == 0:
                continue
            values = {"pixel": rc.pixel(), "pixel_image": rc.pixel_per_image(),
                      "image": rc.image() if rc.images >= 2 else float("nan")}
            for agg, v in values.items():
                rows.append((RANK, split, "RANKCORR", "AU~EU", "spearman", agg, v,
                             "ok" if np.isfinite(v) else "undefined: fewer than 2 images"))
        frames = [pd.DataFrame(rows, columns=COLUMNS)]
        if self._rescaled is not None:
            name = f"{RESCALED}:{self.factor_name}"
            table = self._rescaled.results()
            frames.append(with_analysis(table[table.measure.isin(["TU", "EU", "EU/AU"])], name))
            frames.append(pd.DataFrame([(name, "val", "RESCALE", "EU", "eu_factor", "none", float(self.eu_factor),
                                         "ok")], columns=COLUMNS))
        return pd.concat(frames, ignore_index=True)
