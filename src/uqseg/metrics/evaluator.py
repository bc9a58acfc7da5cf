"""Streaming evaluator producing the tidy results table (SPEC §3; docs/conventions.md "Tidy results")."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from uqseg.errors import InputError
from uqseg.metrics._check import as_array
from uqseg.metrics.aggregation import STRATEGIES, aggregate
from uqseg.metrics.ambiguity import annotator_variance, ncc
from uqseg.metrics.calibration import ace_from_sums, fit_platt, pixel_correctness, platt_confidence
from uqseg.metrics.ood import auroc
from uqseg.metrics.segmentation import dice, ged

MEASURES = ("TU", "AU", "EU")
TAU_BINS = 1 << 16


def image_bin_sums(confidence: np.ndarray, correct: np.ndarray, bins: int) -> np.ndarray:
    """Per-image ACE bin sums, B×bins×3 (SPEC §3 CAL): ``ace_bin_sums`` of each image, bit for bit, in one pass.

    confidence and correct are B×…; image i's pixels go to bins i·bins … i·bins + bins − 1 of one bincount.
    """
    n = confidence.shape[0]
    offset = (np.arange(n) * bins).reshape(n, *[1] * (confidence.ndim - 1))
    idx = (np.clip((confidence * bins).astype(np.int64), 0, bins - 1) + offset).ravel()
    size = n * bins
    counts = np.bincount(idx, minlength=size).astype(np.float64)
    correct_sum = np.bincount(idx, weights=np.ravel(correct), minlength=size)
    confidence_sum = np.bincount(idx, weights=np.ravel(confidence), minlength=size)
    return np.stack([counts, correct_sum, confidence_sum], axis=1).reshape(n, bins, 3)


class Evaluator:
    """Streams validation, ID test and OOD batches; keeps only per-image scores and fixed-size histograms.

    Validation must be streamed (add_validation) before the first add(); the first add() fits, per measure, the
    Platt (a, b) from a platt_bins histogram of u on [0, log C] and τ from a 2^16-bin histogram (bin-midpoint
    quantile, error ≤ log C / 2^17).
    """

    def __init__(self, num_classes: int, *, ood_splits: Sequence[str], id_split: str = "test", ace_bins: int = 20,
                 patch_size: int = 10, ged_distance: str = "iou", platt_bins: int = 2000) -> None:
        if num_classes < 2:
            raise InputError(f"num_classes must be >= 2, got {num_classes}")
        if ged_distance not in ("iou", "dice"):
            raise InputError(f"ged_distance must be 'iou' or 'dice', got {ged_distance!r}")
        if id_split in ood_splits:
            raise InputError(f"id_split {id_split!r} is also listed in ood_splits")
        self.C, self.ood_splits, self.id_split = num_classes, list(ood_splits), id_split
        self.ace_bins, self.patch_size, self.platt_bins = ace_bins, patch_size, platt_bins
        self.ged_distance = ged_distance
        self.umax = math.log(num_classes)
        self._platt_hist = {m: np.zeros((platt_bins, 2)) for m in MEASURES}
        self._tau_hist = {m: np.zeros(TAU_BINS) for m in MEASURES}
        self._bg_sum, self._pix = 0.0, 0
        self.platt: dict[str, tuple[float, float]] | None = None
        self.tau: dict[str, float] | None = None
        self._scores: dict[tuple, list] = defaultdict(list)
        self._ace_sums: dict[tuple, np.ndarray] = {}
        self._image_ace: dict[tuple, list[np.ndarray]] = defaultdict(list)

    def _unpack(self, batch: dict[str, Any]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Validate a batch; return maps, pred (B×H×W) and annotations (B×K×H×W)."""
        for k in ("tu", "au", "eu", "mean", "annotations"):
            if k not in batch:
                raise InputError(f"batch lacks {k!r}")
        mean = as_array(batch["mean"], "batch['mean']", 4)
        if mean.shape[1] != self.C:
            raise InputError(f"batch['mean'] has {mean.shape[1]} classes, expected {self.C}")
        pred = mean.argmax(1)
        maps = {m: as_array(batch[m.lower()], f"batch[{m.lower()!r}]", 3) for m in MEASURES}
        for m, u in maps.items():
            if u.shape != pred.shape:
                raise InputError(f"batch[{m.lower()!r}] shape {u.shape} does not match mean {mean.shape}")
        ann = as_array(batch["annotations"], "batch['annotations']", 4, integer=True)
        if ann.shape[:1] + ann.shape[2:] != pred.shape:
            raise InputError(f"batch['annotations'] shape {ann.shape} does not match mean {mean.shape}")
        if ann.min() < 0 or ann.max() >= self.C:
            raise InputError(f"batch['annotations'] holds labels outside [0, {self.C - 1}]")
        return maps, pred, ann

    def _bin(self, u: np.ndarray, n: int) -> np.ndarray:
        return np.clip((u / self.umax * n).astype(np.int64), 0, n - 1)

    def add_validation(self, batch: dict[str, Any]) -> None:
        """Stream one validation batch into the Platt and τ histograms (SPEC §3 CAL, OODD threshold)."""
        if self.platt is not None:
            raise InputError("add_validation() after add(): validation statistics are already fitted")
        maps, pred, ann = self._unpack(batch)
        corr = pixel_correctness(ann, pred).sum(1).ravel()
        k = ann.shape[1]
        self._bg_sum += float((pred == 0).sum())
        self._pix += pred.size
        for m, u in maps.items():
            ub = self._bin(u.ravel(), self.platt_bins)
            self._platt_hist[m][:, 0] += np.bincount(ub, weights=corr, minlength=self.platt_bins)
            self._platt_hist[m][:, 1] += np.bincount(ub, weights=k - corr, minlength=self.platt_bins)
            self._tau_hist[m] += np.bincount(self._bin(u.ravel(), TAU_BINS), minlength=TAU_BINS)

    def _fit(self) -> None:
        if self._pix == 0:
            raise InputError("stream the validation split with add_validation() before add()")
        q = self._bg_sum / self._pix
        centres = (np.arange(self.platt_bins) + 0.5) / self.platt_bins * self.umax
        self.platt, self.tau = {}, {}
        for m in MEASURES:
            h = self._platt_hist[m]
            keep = h.sum(1) > 0
            u = np.r_[centres[keep], centres[keep]]
            y = np.r_[np.ones(keep.sum()), np.zeros(keep.sum())]
            w = np.r_[h[keep, 0], h[keep, 1]]
            self.platt[m] = fit_platt(u, y, w)
            cdf = np.cumsum(self._tau_hist[m]) / self._tau_hist[m].sum()
            i = int(np.searchsorted(cdf, q, side="left"))
            self.tau[m] = (min(i, TAU_BINS - 1) + 0.5) / TAU_BINS * self.umax

    def add(self, split: str, batch: dict[str, Any]) -> None:
        """Stream one batch of the ID test split or an OOD split.

        GED uses ``sample_labels`` (L×B×H×W class indices) when given, else the argmax of ``samples`` (L×B×C×H×W).
        """
        if split != self.id_split and split not in self.ood_splits:
            raise InputError(f"split {split!r} is neither id_split nor one of ood_splits")
        if self.platt is None:
            self._fit()
        maps, pred, ann = self._unpack(batch)
        corr = pixel_correctness(ann, pred)
        var = annotator_variance(ann)
        oracle = None
        if batch.get("oracle") is not None:
            o = as_array(batch["oracle"], "batch['oracle']", 4)
            if o.shape != (pred.shape[0], self.C, *pred.shape[1:]):
                raise InputError(f"batch['oracle'] shape {o.shape} does not match mean")
            idx = np.arange(self.C)[None, :, None, None]
            oracle = (o * idx**2).sum(1) - ((o * idx).sum(1)) ** 2
        for m, u in maps.items():
            self._scores[(split, "AMB", m, "ncc")].extend(np.atleast_1d(ncc(u, var)))
            if oracle is not None:
                self._scores[(split, "AMB", m, "ncc_oracle")].extend(np.atleast_1d(ncc(u, oracle)))
            conf = np.broadcast_to(platt_confidence(u, *self.platt[m])[:, None], corr.shape)
            sums = image_bin_sums(conf, corr, self.ace_bins)
            self._scores[(split, "CAL", m, "ace_image")].extend(ace_from_sums(s) for s in sums)
            total = self._ace_sums.get((split, m), 0)
            for image in sums:  # image by image, so the global sums are bit-identical to a per-image stream
                total = total + image
            self._ace_sums[(split, m)] = total
            self._image_ace[(split, m)].append(sums)
            for agg in STRATEGIES:
                sc = aggregate(u, pred, agg, tau=self.tau[m], patch_size=self.patch_size)
                self._scores[(split, "OODD", m, agg)].extend(sc)
        self._scores[(split, "SEG", "pred", "dice")].extend(dice(pred, ann, self.C))
        labels = None
        if batch.get("sample_labels") is not None:
            labels = as_array(batch["sample_labels"], "batch['sample_labels']", 4, integer=True)
        elif batch.get("samples") is not None:
            labels = as_array(batch["samples"], "batch['samples']", 5).argmax(2)
        if labels is not None:
            self._scores[(split, "SEG", "pred", "ged")].extend(ged(labels, ann, self.C, self.ged_distance))

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
            for metric in ("dice", "ged"):
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
        from uqseg.metrics.bootstrap import ace_replicates, auroc_replicates, mean_replicates, resample_counts

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
