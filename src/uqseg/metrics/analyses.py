"""Result rows of the open-question analyses beside the evaluator's (docs/method.md "Open questions").

``AnalysisHook`` takes the same batches as ``uqseg.metrics.Evaluator`` (``add_validation``, then ``add``) and
returns tidy rows with an ``analysis`` column naming the analysis:

- ``au_eu_rank``: Spearman's ρ between AU and EU per evaluated split (task ``RANKCORR``, measure ``AU~EU``, metric
  ``spearman``, aggregation ``pixel``, ``pixel_image`` or ``image``);
- ``eu_rescaled:<name>``: the evaluator's TU and EU rows (and the EU/AU collapse ratio) for the rescaled maps
  TU' = AU + f·EU, EU' = f·EU, with the factor itself as a row (split ``val``, task ``RESCALE``, metric
  ``eu_factor``), one set per named factor; ``bootstrap`` gives their replicates, paired with the evaluator's.
  f must be known before validation is streamed: ``ValidationFactors`` (or ``mean_ratio_factor`` for the paper's
  factor alone) computes the factors in a first pass over the validation batches. The maps go to that evaluator
  divided by 1 + f (``rescaled_batch(normalise=True)``), which changes none of its metrics and keeps them inside
  its histogram range.

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
from uqseg.metrics.raters import ABSENT
from uqseg.metrics.rescaling import DEFAULT_FACTORS, FactorSearch, MeanRatio, rescaled_batch

MAIN = "main"
RANK = "au_eu_rank"
RESCALED = "eu_rescaled"
EU_RESCALING = "eu_rescaling"
STUDY_ANALYSES = (EU_RESCALING, RANK)
"""The analyses a benchmark switches on with its ``analyses`` key: ``eu_rescaling`` (rows ``eu_rescaled:<factor>``)
and ``au_eu_rank`` (rows ``au_eu_rank``)."""
COLUMNS = ["analysis", "split", "task", "measure", "metric", "aggregation", "value", "status"]
MEAN_RATIO = "mean_ratio"
FACTOR_NAMES = (MEAN_RATIO, "search:CAL", "search:CAL_NLL", "search:AMB")
"""The EU factors ``ValidationFactors`` fits: the paper's mean ratio and the grid factor with the best validation
performance of TU' for each task it can be chosen for (docs/method.md "Open questions")."""
RESCALED_MEASURES = ("TU", "EU", "EU/AU")


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


class ValidationFactors:
    """The EU factors of ``FACTOR_NAMES`` from one pass over the validation batches (docs/method.md "Open
    questions"): ``mean_ratio`` streamed as two sums, ``search:<task>`` by ``FactorSearch`` over ``factors``.

    The search needs every annotator of every validation image; with an absent one (``ABSENT`` labels) only the mean
    ratio is available and ``factor`` says why for the others.
    """

    def __init__(self, factors: Any = DEFAULT_FACTORS) -> None:
        self._ratio, self._search = MeanRatio(), FactorSearch(factors)
        self._absent = False

    def add(self, batch: EvalBatch | Mapping[str, Any]) -> None:
        """Stream one validation batch (its ``au``, ``eu``, ``annotations`` and prediction)."""
        b = as_batch(batch)
        self._ratio.add(b.au, b.eu)
        self._absent = self._absent or bool((b.annotations == ABSENT).any())
        if not self._absent:
            self._search.add(b.au, b.eu, b.annotations, b.prediction)

    def factor(self, name: str) -> float:
        """The factor ``name`` (one of ``FACTOR_NAMES``); InputError saying why when it cannot be fitted."""
        if name == MEAN_RATIO:
            return self._ratio.factor()
        task = name.removeprefix("search:")
        if name not in FACTOR_NAMES:
            raise InputError(f"unknown EU factor {name!r}; known: {', '.join(FACTOR_NAMES)}")
        if not self._ratio.sum_eu > 0:
            raise InputError("EU is 0 on every validation pixel: no factor rescales it")
        if self._absent:
            raise InputError("the factor search needs every annotator of every validation image")
        return self._search.best(task)  # type: ignore[arg-type]


class AnalysisHook:
    """Streams the evaluator's batches into the rank correlation (``rank``) and, per factor of ``eu_factors``
    (name → f, plus ``factor_name`` → ``eu_factor`` when given), an evaluator of the rescaled maps
    (docs/method.md "Open questions")."""

    def __init__(self, num_classes: int, *, ood_splits: Sequence[str], id_split: str = "test",
                 eu_factor: float | None = None, factor_name: str = MEAN_RATIO,
                 eu_factors: Mapping[str, float] | None = None, rank: bool = True, rank_pixels: int = 1_000_000,
                 seed: int = 0) -> None:
        factors = dict(eu_factors or {})
        if eu_factor is not None:
            factors[factor_name] = eu_factor
        for name, f in factors.items():
            if not (np.isfinite(f) and f > 0):
                raise InputError(f"eu_factor {name!r} must be finite and > 0, got {f}")
        self.id_split, self.ood_splits = id_split, list(ood_splits)
        self.eu_factors = factors
        self._splits = [id_split, *self.ood_splits]
        self._rank = {s: RankCorrelation(rank_pixels, seed) for s in self._splits} if rank else {}
        self._rescaled = {name: Evaluator(num_classes, ood_splits=ood_splits, id_split=id_split) for name in factors}

    def add_validation(self, batch: EvalBatch | Mapping[str, Any]) -> None:
        """Stream one validation batch (each rescaled evaluator fits its Platt (a, b) and τ of TU' and EU' on it)."""
        for name, evaluator in self._rescaled.items():
            evaluator.add_validation(rescaled_batch(batch, self.eu_factors[name], normalise=True))

    def add(self, split: str, batch: EvalBatch | Mapping[str, Any]) -> None:
        """Stream one batch of the ID test split or an OOD split."""
        if split not in self._splits:
            raise InputError(f"split {split!r} is neither id_split nor one of ood_splits")
        b = as_batch(batch)
        if split in self._rank:
            self._rank[split].add(b.au, b.eu)
        for name, evaluator in self._rescaled.items():
            evaluator.add(split, rescaled_batch(b, self.eu_factors[name], normalise=True))

    def bootstrap(self, replicates: int = 1000, key: str = "") -> pd.DataFrame:
        """Bootstrap replicates of the rescaled rows (``Evaluator.bootstrap`` with the same ``key``, so paired with
        the main rows' resamples): columns analysis, split, task, measure, metric, aggregation, ``b0 …``."""
        frames = []
        for name, evaluator in self._rescaled.items():
            table = evaluator.bootstrap(replicates, key)
            frames.append(table[table.measure.isin(RESCALED_MEASURES)].assign(analysis=f"{RESCALED}:{name}"))
        columns = [*COLUMNS[:6], *(f"b{i}" for i in range(replicates))]
        if not frames:
            return pd.DataFrame(columns=columns)
        return pd.concat(frames, ignore_index=True).loc[:, columns]

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
        for factor, evaluator in self._rescaled.items():
            name = f"{RESCALED}:{factor}"
            table = evaluator.results()
            frames.append(with_analysis(table[table.measure.isin(RESCALED_MEASURES)], name))
            frames.append(pd.DataFrame([(name, "val", "RESCALE", "EU", "eu_factor", "none",
                                         float(self.eu_factors[factor]), "ok")], columns=COLUMNS))
        return pd.concat(frames, ignore_index=True)
