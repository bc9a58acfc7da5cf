"""Streaming evaluator producing the tidy results table (docs/method.md §3; docs/conventions.md "Tidy results")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from uqseg.errors import InputError
from uqseg.metrics.aggregation import STRATEGIES, aggregate
from uqseg.metrics.ambiguity import annotator_variance, ncc
from uqseg.metrics.batch import EvalBatch, as_batch
from uqseg.metrics.bootstrap import ace_replicates, auroc_replicates, mean_replicates, resample_counts
from uqseg.metrics.calibration import UncertaintyHistogram, ace_from_sums, pixel_correctness, platt_confidence
from uqseg.metrics.ood import auroc
from uqseg.metrics.raters import present_raters
from uqseg.metrics.segmentation import DISTANCES, dice, instance_ged

MEASURES = ("TU", "AU", "EU")


def image_bin_sums(confidence: np.ndarray, correct: np.ndarray, bins: int, weight: np.ndarray | None = None
                   ) -> np.ndarray:
    """Per-image ACE bin sums, B×bins×3 (docs/method.md §3 CAL): each image's ``ace_bin_sums`` bit for bit, one pass.

    confidence and correct are B×…; image i's pixels go to bins i·bins … i·bins + bins − 1 of one bincount.
    ``weight`` (0/1, same shape) leaves out the pairs of absent annotators (uqseg.metrics.raters).
    """
    if weight is not None:
        confidence, correct = confidence * weight, correct * weight
    n = confidence.shape[0]
    offset = (np.arange(n) * bins).reshape(n, *[1] * (confidence.ndim - 1))
    idx = (np.clip((confidence * bins).astype(np.int64), 0, bins - 1) + offset).ravel()
    size = n * bins
    counts = np.bincount(idx, weights=None if weight is None else np.ravel(weight), minlength=size).astype(np.float64)
    correct_sum = np.bincount(idx, weights=np.ravel(correct), minlength=size)
    confidence_sum = np.bincount(idx, weights=np.ravel(confidence), minlength=size)
    return np.stack([counts, correct_sum, confidence_sum], axis=1).reshape(n, bins, 3)


class Evaluator:
    """Streams validation, ID test and OOD batches; keeps only per-image scores and fixed-size histograms.

    Validation must be streamed (add_validation) before the first add(); the first add() fits, per measure, the
    Platt (a, b) and τ from a scale-free ``UncertaintyHistogram`` (log-spaced bins plus a zero bin, each bin
    represented by the mean u of its pixels), so EU maps 10⁶ times smaller than AU are fitted as exactly as AU
    (docs/method.md §3 CAL, OODD).
    """

    def __init__(self, num_classes: int, *, ood_splits: Sequence[str], id_split: str = "test", ace_bins: int = 20,
                 patch_size: int = 10, histogram_bins: int = 1 << 16) -> None:
        if num_classes < 2:
            raise InputError(f"num_classes must be >= 2, got {num_classes}")
        if id_split in ood_splits:
            raise InputError(f"id_split {id_split!r} is also listed in ood_splits")
        self.C, self.ood_splits, self.id_split = num_classes, list(ood_splits), id_split
        self.ace_bins, self.patch_size = ace_bins, patch_size
        self._hist = {m: UncertaintyHistogram(histogram_bins) for m in MEASURES}
        self._bg_sum, self._bg_images = 0.0, 0
        self.platt: dict[str, tuple[float, float]] | None = None
        self.tau: dict[str, float] | None = None
        self._scores: dict[tuple, list] = defaultdict(list)
        self._ace_sums: dict[tuple, np.ndarray] = {}
        self._image_ace: dict[tuple, list[np.ndarray]] = defaultdict(list)

    def _unpack(self, batch: EvalBatch | Mapping[str, Any]) -> tuple[EvalBatch, dict[str, np.ndarray], np.ndarray]:
        """The checked batch, its maps by measure and its prediction (B×H×W)."""
        b = as_batch(batch)
        if b.num_classes != self.C:
            raise InputError(f"mean has {b.num_classes} classes, expected {self.C}")
        return b, {"TU": b.tu, "AU": b.au, "EU": b.eu}, b.prediction

    def add_validation(self, batch: EvalBatch | Mapping[str, Any]) -> None:
        """Stream one validation batch into the Platt and τ histograms (docs/method.md §3 CAL, OODD threshold).

        ``batch.bg_fraction``, when given, is each image's predicted background fraction averaged over the mean
        map's argmax and every EU instance's argmax (the authors' quantile); else the prediction's background
        fraction. A mapping of EvalBatch's field names is accepted too.
        """
        if self.platt is not None:
            raise InputError("add_validation() after add(): validation statistics are already fitted")
        b, maps, pred = self._unpack(batch)
        ann = b.annotations
        corr = pixel_correctness(ann, pred).sum(1)
        bg = (pred == 0).mean((1, 2)) if b.bg_fraction is None else b.bg_fraction
        self._bg_sum += float(bg.sum())
        self._bg_images += bg.size
        present = present_raters(ann)
        raters = np.full(ann.shape[0], ann.shape[1]) if present is None else present.sum(1)
        for k in np.unique(raters):
            rows = slice(None) if present is None else raters == k
            for m, u in maps.items():
                self._hist[m].add(u[rows], corr[rows], int(k))

    def _fit(self) -> None:
        if self._bg_images == 0:
            raise InputError("stream the validation split with add_validation() before add()")
        q = self._bg_sum / self._bg_images
        self.platt = {m: self._hist[m].fit_platt() for m in MEASURES}
        self.tau = {m: self._hist[m].quantile(q) for m in MEASURES}

    def _ged(self, b: EvalBatch) -> dict[str, np.ndarray] | None:
        """Per-image GED for each distance: stored values, or computed from ``sample_labels``."""
        if b.ged_dice is not None:
            return {"dice": b.ged_dice, "iou": b.ged_iou}
        if b.sample_labels is None:
            return None
        return {k: v.mean(0) for k, v in instance_ged(b.annotations, b.sample_labels, self.C).items()}

    def add(self, split: str, batch: EvalBatch | Mapping[str, Any]) -> None:
        """Stream one batch of the ID test split or an OOD split (docs/method.md §3).

        GED (metrics ``ged_dice`` and ``ged_iou``) takes the per-image ``batch.ged_dice`` and ``batch.ged_iou`` when
        given (a predictions file stores them), else ``batch.sample_labels``: GED within each EU instance averaged
        over instances (a model without EU: M = 1). A mapping of EvalBatch's field names is accepted too.
        """
        if split != self.id_split and split not in self.ood_splits:
            raise InputError(f"split {split!r} is neither id_split nor one of ood_splits")
        if self.platt is None:
            self._fit()
        b, maps, pred = self._unpack(batch)
        ann = b.annotations
        corr = pixel_correctness(ann, pred)
        present = present_raters(ann)
        pairs = None if present is None else np.broadcast_to(present[:, :, None, None], corr.shape)
        var = annotator_variance(ann)
        oracle = None
        if b.oracle is not None:
            idx = np.arange(self.C)[None, :, None, None]
            oracle = (b.oracle * idx**2).sum(1) - ((b.oracle * idx).sum(1)) ** 2
        for m, u in maps.items():
            self._scores[(split, "AMB", m, "ncc")].extend(np.atleast_1d(ncc(var, u)))
            if oracle is not None:
                self._scores[(split, "AMB", m, "ncc_oracle")].extend(np.atleast_1d(ncc(oracle, u)))
            conf = np.broadcast_to(platt_confidence(u, *self.platt[m])[:, None], corr.shape)
            sums = image_bin_sums(conf, corr, self.ace_bins, pairs)
            self._scores[(split, "CAL", m, "ace_image")].extend(ace_from_sums(s) for s in sums)
            total = self._ace_sums.get((split, m), 0)
            for image in sums:  # image by image, so the global sums are bit-identical to a per-image stream
                total = total + image
            self._ace_sums[(split, m)] = total
            self._image_ace[(split, m)].append(sums)
            for agg in STRATEGIES:
                sc = aggregate(u, pred, agg, tau=self.tau[m], patch_size=self.patch_size)
                self._scores[(split, "OODD", m, agg)].extend(sc)
        self._scores[(split, "SEG", "pred", "dice")].extend(dice(ann, pred, self.C))
        for k, v in (self._ged(b) or {}).items():
            self._scores[(split, "SEG", "pred", f"ged_{k}")].extend(v)

    def results(self) -> pd.DataFrame:
        """Tidy table with columns split, task, measure, metric, aggregation, value, status."""
        rows = []

        def put(split: str, task: str, measure: str, metric: str, agg: str, value: float, why: str = "") -> None:
            ok = np.isfinite(value)
            rows.append((split, task, measure, metric, agg, float(value), "ok" if ok else (why or "undefined")))

        splits = [s for s in [self.id_split, *self.ood_splits] if (s, "SEG", "pred", "dice") in self._scores]
        for s in splits:
            for m in MEASURES:
                for metric in ("ncc", "ncc_oracle"):
                    v = self._scores.get((s, "AMB", m, metric))
                    if v:
                        put(s, "AMB", m, metric, "none", float(np.mean(v)))
                put(s, "CAL", m, "ace_global", "none", ace_from_sums(self._ace_sums[(s, m)]), "undefined: no pixels")
                put(s, "CAL", m, "ace_image", "none", float(np.mean(self._scores[(s, "CAL", m, "ace_image")])))
            for metric in ("dice", *(f"ged_{k}" for k in DISTANCES)):
                v = self._scores.get((s, "SEG", "pred", metric))
                if v:
                    put(s, "SEG", "pred", metric, "none", float(np.mean(v)))
            for agg in STRATEGIES:
                eu, au = np.mean(self._scores[(s, "OODD", "EU", agg)]), np.mean(self._scores[(s, "OODD", "AU", agg)])
                ratio = eu / au if au > 0 else float("nan")
                put(s, "COLLAPSE", "EU/AU", "eu_au_ratio", agg, ratio, "undefined: mean AU is 0")
        for s in self.ood_splits:
            if s not in splits:
                continue
            for m in MEASURES:
                for agg in STRATEGIES:
                    ids, oods = self._scores[(self.id_split, "OODD", m, agg)], self._scores[(s, "OODD", m, agg)]
                    if ids and oods:
                        put(s, "OODD", m, "auroc", agg, auroc(ids, oods))
                    else:
                        put(s, "OODD", m, "auroc", agg, float("nan"), "undefined: single class")
        return pd.DataFrame(rows, columns=["split", "task", "measure", "metric", "aggregation", "value", "status"])

    def bootstrap(self, replicates: int = 1000, key: str = "") -> pd.DataFrame:
        """Bootstrap replicates of the result rows (docs/method.md §3): columns split, task, measure, metric,
        aggregation, then ``b0 … b{B−1}`` (float32).

        Each split's images are resampled with counts seeded by ``key|split`` (pass dataset and seed as ``key``), so
        every combination of one dataset and seed sees the same resamples; an OOD AUROC resamples the ID test with the
        ID split's counts and the OOD split with its own. Means of per-image scores (NCC, per-image ACE, Dice, GED),
        the pooled ACE from resampled per-image bin sums, the EU/AU ratio of means, and AUROC are replicated.
        """
        splits = [s for s in [self.id_split, *self.ood_splits] if (s, "SEG", "pred", "dice") in self._scores]
        counts = {s: resample_counts(len(self._scores[(s, "SEG", "pred", "dice")]), replicates, f"{key}|{s}")
                  for s in splits}
        rows: list[tuple[str, str, str, str, str]] = []
        values: list[np.ndarray] = []
        for (split, task, measure, metric), v in self._scores.items():
            if split in counts and task in ("AMB", "CAL", "SEG") and len(v):
                if len(v) != counts[split].shape[1]:
                    raise InputError(f"split {split!r}: {metric} has {len(v)} images, expected "
                                     f"{counts[split].shape[1]}")
                rows.append((split, task, measure, metric, "none"))
                values.append(mean_replicates(counts[split], v))
        for (split, m), parts in self._image_ace.items():
            if split in counts:
                rows.append((split, "CAL", m, "ace_global", "none"))
                values.append(ace_replicates(counts[split], np.concatenate(parts)))
        for s in splits:
            for agg in STRATEGIES:
                eu = mean_replicates(counts[s], self._scores[(s, "OODD", "EU", agg)])
                au = mean_replicates(counts[s], self._scores[(s, "OODD", "AU", agg)])
                with np.errstate(invalid="ignore", divide="ignore"):
                    values.append(np.where(au > 0, eu / np.where(au > 0, au, 1.0), np.nan))
                rows.append((s, "COLLAPSE", "EU/AU", "eu_au_ratio", agg))
            if s == self.id_split:
                continue
            for m in MEASURES:
                for agg in STRATEGIES:
                    ids, oods = self._scores[(self.id_split, "OODD", m, agg)], self._scores[(s, "OODD", m, agg)]
                    if ids and oods:
                        rows.append((s, "OODD", m, "auroc", agg))
                        values.append(auroc_replicates(ids, oods, counts[self.id_split], counts[s]))
        keys = pd.DataFrame(rows, columns=["split", "task", "measure", "metric", "aggregation"])
        matrix = np.asarray(values, dtype=np.float32).reshape(len(rows), replicates)
        return pd.concat([keys, pd.DataFrame(matrix, columns=[f"b{i}" for i in range(replicates)])], axis=1)
