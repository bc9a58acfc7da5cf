"""Evaluate one combination's stored predictions for an open-question analysis (docs/method.md "Open questions").

An analysis reads the predictions files the metrics step reads, in its own pass, so switching it on later redoes no
training, prediction or metrics step:

- ``eu_rescaling``: a first pass over the validation predictions fits every factor of
  ``uqseg.metrics.analyses.FACTOR_NAMES``; a second pass feeds each split to one evaluator of the rescaled maps per
  factor. Rows ``eu_rescaled:<factor>`` (TU, EU and the EU/AU ratio, with bootstrap replicates paired with the main
  rows', and the factor as a row of task ``RESCALE``); a factor that cannot be fitted (EU is 0 on validation, as for
  No-EU; the search with an absent annotator) gets its factor row with NaN and the reason, and no other rows.
- ``au_eu_rank``: Spearman's ρ between AU and EU on the ID test and every OOD split (no validation pass, no
  replicates).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from uqseg.data.contract import Dataset
from uqseg.errors import InputError
from uqseg.inference.evaluate import ID_TEST, VALIDATION, evaluated_splits, prediction_path, split_batches
from uqseg.metrics.analyses import (
    COLUMNS,
    EU_RESCALING,
    FACTOR_NAMES,
    RANK,
    RESCALED,
    STUDY_ANALYSES,
    AnalysisHook,
    ValidationFactors,
)


def fit_factors(pred_dir: Path, dataset: Dataset, *, batch_size: int = 64
                ) -> tuple[dict[str, float], dict[str, str]]:
    """The EU factors fitted on the validation predictions in ``pred_dir`` (docs/method.md "Open questions"): name →
    f for those that can be fitted, name → why for the others."""
    fit = ValidationFactors()
    split = dataset.split(VALIDATION)
    for batch in split_batches(prediction_path(pred_dir, VALIDATION), split, dataset.info.num_classes,
                               batch_size=batch_size):
        fit.add(batch)
    factors, failed = {}, {}
    for name in FACTOR_NAMES:
        try:
            factors[name] = fit.factor(name)
        except InputError as err:
            failed[name] = f"undefined: {err}"
    return factors, failed


def evaluate_analysis(pred_dir: Path, dataset: Dataset, analysis: str, *, batch_size: int = 64, key: str = "",
                      seed: int = 0, replicates: int = 1000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy rows (columns analysis, split, task, measure, metric, aggregation, value, status) of ``analysis``
    (one of ``STUDY_ANALYSES``) for the predictions in ``pred_dir``, and their bootstrap replicates (columns
    analysis … aggregation, ``b0 …``), resampled under ``key`` like the main rows (docs/method.md §3). ``seed``
    fixes the rank correlation's pixel sample."""
    if analysis not in STUDY_ANALYSES:
        raise InputError(f"unknown analysis {analysis!r}; known: {', '.join(STUDY_ANALYSES)}")
    num_classes, ood = dataset.info.num_classes, dataset.info.ood_splits
    factors, failed = fit_factors(pred_dir, dataset, batch_size=batch_size) if analysis == EU_RESCALING else ({}, {})
    hook = AnalysisHook(num_classes, ood_splits=ood, id_split=ID_TEST, eu_factors=factors,
                        rank=analysis == RANK, seed=seed)
    for name in evaluated_splits(dataset):
        if name == VALIDATION and not factors:
            continue
        for batch in split_batches(prediction_path(pred_dir, name), dataset.split(name), num_classes,
                                   batch_size=batch_size):
            if name == VALIDATION:
                hook.add_validation(batch)
            else:
                hook.add(name, batch)
    failed_rows = pd.DataFrame([(f"{RESCALED}:{name}", VALIDATION, "RESCALE", "EU", "eu_factor", "none", np.nan, why)
                                for name, why in failed.items()], columns=COLUMNS)
    table = pd.concat([hook.results(), failed_rows], ignore_index=True) if failed else hook.results()
    return table, hook.bootstrap(replicates, key)
