"""Evaluation images/s, full metric set, over stored maps: streamed Evaluator vs metric by metric.

Fast = ``uqseg.inference.evaluate.evaluate_predictions``: each split's predictions file is read once, in chunks,
and every metric (NCC, NCC-oracle, ACE global and per image, OODD under the five aggregations, Dice, GED, EU/AU)
is computed from that one read by ``uqseg.metrics.Evaluator``. Naive = compute each metric separately with the
functional metrics of ``uqseg.metrics``, opening the file and loading the maps it needs afresh for every metric
(the Platt fit and τ from the full validation pixels, as a one-off script would). Both are vectorised NumPy; the
difference is re-reading and re-decoding. Maps are synthetic (TU = AU + EU, a consistent mean) and so are the
annotations (discs whose radius 4 annotators disagree on).

    python benchmarks/bench_eval.py --images 64 --size 64
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from uqseg.atomic import atomic_path
from uqseg.data.contract import Dataset, DatasetInfo, Split
from uqseg.inference.evaluate import evaluate_predictions, evaluated_splits, prediction_path
from uqseg.metrics.aggregation import STRATEGIES, aggregate
from uqseg.metrics.ambiguity import annotator_variance, ncc
from uqseg.metrics.calibration import ace, fit_platt, pixel_correctness, platt_confidence
from uqseg.metrics.ood import auroc
from uqseg.metrics.segmentation import dice, ged
from uqseg.store import create_datasets, write_batch

MEASURES = ("tu", "au", "eu")
OOD = "ood-noise"


def make_dataset(n: int, size: int, annotators: int = 4, seed: int = 0, test: int | None = None) -> Dataset:
    """train, val, test and one OOD split of ``n`` images each (``test`` images in test if given): discs whose
    radius the annotators disagree on."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]

    def split(name: str) -> Split:
        count = test if name == "test" and test is not None else n
        cy, cx = rng.uniform(size * 0.3, size * 0.7, (2, count, 1, 1))
        r = rng.uniform(size * 0.1, size * 0.25, (count, 1, 1))
        dist = np.hypot(yy - cy, xx - cx)[:, None]
        annotations = (dist < r[:, None] * (0.8 + 0.1 * np.arange(annotators))[None, :, None, None]).astype(np.int64)
        p1 = annotations.mean(1)
        images = rng.normal(0, 1, (count, 1, size, size)).astype(np.float32)
        return Split(name, images, annotations, np.stack([1 - p1, p1], 1).astype(np.float32))

    info = DatasetInfo("bench", 2, 1, annotators, (size, size), (OOD,))
    return Dataset(info, {name: split(name) for name in ("train", "val", "test", OOD)})


def write_predictions(path: Path, split: Split, labels: int, seed: int) -> None:
    """A complete predictions file for ``split`` with plausible random maps."""
    rng = np.random.default_rng(seed)
    n, _, h, w = split.annotations.shape
    p1 = np.clip(split.oracle[:, 1] + rng.normal(0, 0.2, (n, h, w)), 1e-3, 1 - 1e-3)
    tu = -(p1 * np.log(p1) + (1 - p1) * np.log(1 - p1))
    eu = tu * rng.uniform(0, 0.3, (n, h, w))
    sample_labels = (rng.uniform(size=(n, labels, h, w)) < p1[:, None]).astype(np.uint8)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        create_datasets(f, n, 2, h, w, labels, 0, 1)
        write_batch(f, 0, {"tu": tu.astype(np.float32), "au": (tu - eu).astype(np.float32),
                           "eu": eu.astype(np.float32), "mean": np.stack([1 - p1, p1], 1).astype(np.float16),
                           "pred": (p1 > 0.5).astype(np.uint8), "sample_labels": sample_labels})
        f.attrs.update({"au": "bench", "eu": "bench", "split": split.name, "complete": True})


def _load(path: Path, *names: str) -> list[np.ndarray]:
    with h5py.File(path, "r") as f:
        return [f[name][:].astype(np.float32) if name != "sample_labels" else f[name][:] for name in names]


def naive(pred_dir: Path, data: Dataset) -> dict[tuple, float]:
    """Every metric on its own, each loading its maps from the file afresh."""
    val, test, ood = (prediction_path(pred_dir, s) for s in ("val", "test", OOD))
    out: dict[tuple, float] = {}
    (mean,) = _load(val, "mean")
    q = float((mean.argmax(1) == 0).mean())
    taus = {m: float(np.quantile(_load(val, m)[0], q)) for m in MEASURES}
    for m in MEASURES:
        u, mean = _load(val, m, "mean")
        corr = pixel_correctness(data.split("val").annotations, mean.argmax(1))
        k = corr.shape[1]
        a, b = fit_platt(np.repeat(u.ravel(), k), corr.transpose(0, 2, 3, 1).ravel())
        for name, path in (("test", test), (OOD, ood)):
            split = data.split(name)
            (u,) = _load(path, m)
            out[(name, m, "ncc")] = float(np.mean(ncc(u, annotator_variance(split.annotations))))
            (u,) = _load(path, m)
            o = split.oracle
            out[(name, m, "ncc_oracle")] = float(np.mean(ncc(u, o[:, 1] - o[:, 1] ** 2)))
            u, mean = _load(path, m, "mean")
            corr = pixel_correctness(split.annotations, mean.argmax(1))
            conf = np.broadcast_to(platt_confidence(u, a, b)[:, None], corr.shape)
            out[(name, m, "ace_global")] = ace(corr, conf)
            u, mean = _load(path, m, "mean")
            corr = pixel_correctness(split.annotations, mean.argmax(1))
            conf = np.broadcast_to(platt_confidence(u, a, b)[:, None], corr.shape)
            out[(name, m, "ace_image")] = float(np.mean([ace(y, c) for c, y in zip(conf, corr, strict=True)]))
        for agg in STRATEGIES:
            scores = []
            for path in (test, ood):
                u, mean = _load(path, m, "mean")
                scores.append(aggregate(u, mean.argmax(1), agg, tau=taus[m]))
            out[(OOD, m, agg)] = auroc(*scores)
    for name, path in (("test", test), (OOD, ood)):
        split = data.split(name)
        (mean,) = _load(path, "mean")
        out[(name, "dice")] = float(np.mean(dice(split.annotations, mean.argmax(1))))
        (labels,) = _load(path, "sample_labels")
        out[(name, "ged")] = float(np.mean(ged(split.annotations, labels.transpose(1, 0, 2, 3))))
        for agg in STRATEGIES:
            eu, au, mean = _load(path, "eu", "au", "mean")
            pred = mean.argmax(1)
            au_mean = aggregate(au, pred, agg, tau=taus["au"]).mean()
            out[(name, agg, "eu_au")] = aggregate(eu, pred, agg, tau=taus["eu"]).mean() / au_mean if au_mean else np.nan
    return out


def best_of(fn, pred_dir: Path, data: Dataset, repeats: int) -> float:
    """Best-of-``repeats`` seconds of ``fn(pred_dir, data)``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(pred_dir, data)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, action="append", help="images per split (repeatable; default 64)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--labels", type=int, default=10, help="sample label maps per image (GED)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"size={args.size} labels/image={args.labels} splits=val,test,{OOD}; best of {args.repeats}")
    print(f"{'images/split':>12} {'Evaluator img/s':>16} {'per-metric img/s':>17} {'ratio':>6}")
    for n in args.images or [64]:
        data = make_dataset(n, args.size)
        with tempfile.TemporaryDirectory() as tmp:
            pred_dir = Path(tmp)
            for i, name in enumerate(evaluated_splits(data)):
                write_predictions(prediction_path(pred_dir, name), data.split(name), args.labels, seed=i)
            total = 3 * n
            fast = best_of(evaluate_predictions, pred_dir, data, args.repeats)
            slow = best_of(naive, pred_dir, data, args.repeats)
        print(f"{n:>12} {total / fast:>16.1f} {total / slow:>17.1f} {slow / fast:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
