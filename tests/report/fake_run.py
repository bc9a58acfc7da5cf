"""A realistic fake run directory: 2 datasets, 2 seeds, all 19 combinations, every result row of conventions.md,
prediction files in the layout of `uqseg.store`, and matching in-memory datasets for the panels."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml

from uqseg.data import Dataset, DatasetInfo, Split
from uqseg.vocabulary import STRATEGIES, combos

DATASETS = {
    "fake-lidc": {"classes": 2, "channels": 1, "annotators": 4,
                  "ood": ("ood-noise", "ood-blur", "ood-contrast", "ood-jpeg")},
    "fake-chaksu": {"classes": 3, "channels": 3, "annotators": 5, "ood": ("ood",)},
}
SEEDS = (0, 1)
SIZE = 16
N_IMAGES = 3
STORED = 2
SAMPLES = 3
PREDICTED = (("ssn", "ensemble"), ("diffusion", "dropout"))
COLUMNS = ["dataset", "seed", "au", "eu", "split", "task", "measure", "metric", "aggregation", "value", "status"]


def _rows(rng: np.random.Generator, dataset: str, seed: int, au: str, eu: str) -> list[tuple]:
    info = DATASETS[dataset]
    au_q = {"softmax": 0.1, "ssn": 0.15, "prob_unet": 0.0, "diffusion": 0.05}[au]
    eu_q = {"none": -0.15, "dropout": 0.0, "swag": 0.03, "swag_d": 0.0, "ensemble": 0.15}[eu]
    rows = []

    def put(split: str, task: str, measure: str, metric: str, agg: str, value: float) -> None:
        rows.append((dataset, seed, au, eu, split, task, measure, metric, agg, float(value), "ok"))

    for split in ("test", *info["ood"]):
        shift = 0.0 if split == "test" else -0.05
        ncc = {"AU": 0.45 + au_q + shift, "EU": 0.3 + eu_q / 2 + shift, "TU": 0.42 + au_q + shift}
        for m, v in ncc.items():
            put(split, "AMB", m, "ncc", "none", v + rng.normal(0, 0.03))
            put(split, "AMB", m, "ncc_oracle", "none", v + 0.12 + rng.normal(0, 0.03))
        for metric, base in (("ace_global", 0.05), ("ace_image", 0.09)):
            ace = {"TU": base - au_q / 5, "AU": base + 0.02, "EU": base + 0.2 - eu_q / 2}
            for m, v in ace.items():
                put(split, "CAL", m, metric, "none", max(v + rng.normal(0, 0.01) - shift / 4, 0.005))
        put(split, "SEG", "pred", "dice", "none", 0.7 + au_q + rng.normal(0, 0.02) + shift)
        put(split, "SEG", "pred", "ged_dice", "none", 0.45 - au_q + rng.normal(0, 0.02) - shift)
        for i, agg in enumerate(STRATEGIES):
            ratio = 1.3 if eu == "none" else {"dropout": 0.08, "swag": 0.3, "swag_d": 0.1, "ensemble": 0.4}[eu]
            put(split, "COLLAPSE", "EU/AU", "eu_au_ratio", agg, ratio * (0.5 if au == "softmax" else 1) + 0.01 * i)
        if split != "test":
            for i, agg in enumerate(STRATEGIES):
                base = 0.6 + 0.04 * i - (0.1 if agg == "threshold" else 0)
                put(split, "OODD", "EU", "auroc", agg, base + eu_q + rng.normal(0, 0.02))
                put(split, "OODD", "AU", "auroc", agg, base + au_q / 2 + rng.normal(0, 0.02))
                put(split, "OODD", "TU", "auroc", agg, base + 0.05 + rng.normal(0, 0.02))
    return rows


def fake_results(seeds: tuple[int, ...] = SEEDS, datasets: tuple[str, ...] = tuple(DATASETS),
                 seed: int = 0) -> pd.DataFrame:
    """The tidy results of every combination of the fake run."""
    rng = np.random.default_rng(seed)
    rows = [r for d in datasets for s in seeds for au, eu in combos("paper") for r in _rows(rng, d, s, au, eu)]
    return pd.DataFrame(rows, columns=COLUMNS)


def fake_replicates(results: pd.DataFrame, replicates: int = 40, seed: int = 0) -> pd.DataFrame:
    """Bootstrap replicates in the layout of RUN_DIR/bootstrap.parquet: each row's value plus noise (sd 0.02) that
    is shared by the rows of one dataset, seed and split (paired resamples), float32, NaN where the value is NaN."""
    rng = np.random.default_rng(seed)
    shared = {k: rng.normal(0, 0.02, replicates) for k in results.groupby(["dataset", "seed", "split"]).groups}
    noise = np.stack([shared[k] for k in zip(results.dataset, results.seed, results.split, strict=True)])
    values = results.value.to_numpy(float)[:, None] + noise + rng.normal(0, 0.005, noise.shape)
    keys = results.loc[:, ["dataset", "seed", "au", "eu", "split", "task", "measure", "metric", "aggregation"]]
    wide = pd.DataFrame(values.astype(np.float32), columns=[f"b{i}" for i in range(replicates)])
    return pd.concat([keys.reset_index(drop=True), wide], axis=1)


def fake_split(name: str, n: int, channels: int, classes: int, annotators: int, seed: int) -> Split:
    """Discs off the image centre (not symmetric in y and x) whose radius the annotators disagree on."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    images = np.zeros((n, channels, SIZE, SIZE), np.float32)
    ann = np.zeros((n, annotators, SIZE, SIZE), np.int64)
    for i in range(n):
        cy, cx = 5.0 + i, 9.0 - i / 2
        dist = np.hypot(yy - cy, (xx - cx) * 1.3)
        for c in range(channels):
            images[i, c] = (dist < 4) * (1 + 0.3 * c) + rng.normal(0, 0.2, (SIZE, SIZE))
        for k in range(annotators):
            ann[i, k] = dist < 3 + 0.5 * k
            if classes == 3:
                ann[i, k][dist < 1.5 + 0.2 * k] = 2
    oracle = np.stack([(ann == c).mean(1) for c in range(classes)], 1).astype(np.float32)
    return Split(name, images, ann, oracle)


def fake_datasets() -> dict[str, Dataset]:
    """In-memory datasets matching the fake run (for the qualitative panels)."""
    out = {}
    for name, info in DATASETS.items():
        splits = {s: fake_split(s, N_IMAGES, info["channels"], info["classes"], info["annotators"], i)
                  for i, s in enumerate(("train", "val", "test", *info["ood"]))}
        out[name] = Dataset(DatasetInfo(name, info["classes"], info["channels"], info["annotators"], (SIZE, SIZE),
                                        info["ood"]), splits)
    return out


def write_predictions(path: Path, au: str, eu: str, split: str, n_classes: int, rng: np.random.Generator) -> None:
    """One complete predictions file in the layout of `uqseg.store`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    fg = np.stack([1 / (1 + np.exp(np.hypot(yy - 5 - i, (xx - 9 + i / 2) * 1.3) - 3.5)) for i in range(N_IMAGES)])

    def probs(f: np.ndarray) -> np.ndarray:
        return np.stack([1 - f] + [f / (n_classes - 1)] * (n_classes - 1), axis=-3)

    mean = probs(fg)
    samples = np.stack([probs(np.clip(fg[:STORED] * rng.uniform(0.6, 1.2), 0, 1)) for _ in range(SAMPLES)], 1)
    ent = -(mean * np.log(np.clip(mean, 1e-8, 1))).sum(1)
    with h5py.File(path, "w") as f:
        f["tu"] = ent.astype(np.float32)
        f["au"] = (0.8 * ent).astype(np.float32)
        f["eu"] = (0.2 * ent * rng.uniform(0.5, 1.5, ent.shape)).astype(np.float32)
        f["mean"] = mean.astype(np.float16)
        f["pred"] = mean.argmax(1).astype(np.uint8)
        f["samples"] = samples.astype(np.float16)
        f["sample_labels"] = mean.argmax(1)[:, None].astype(np.uint8)
        f.attrs.update({"au": au, "eu": eu, "split": split, "S": SAMPLES, "M": 1, "num_images": N_IMAGES,
                        "predictions": SAMPLES, "complete": True})


def write_fake_run(run_dir: Path, *, results: pd.DataFrame | None = None, with_predictions: bool = True,
                   with_replicates: bool = True) -> Path:
    """Write results.parquet/.csv, bootstrap.parquet, config.yaml, environment.json (the benchmark's formats) and
    prediction files."""
    run_dir.mkdir(parents=True, exist_ok=True)
    results = fake_results() if results is None else results
    if with_replicates:
        fake_replicates(results).to_parquet(run_dir / "bootstrap.parquet", index=False)
    results.to_parquet(run_dir / "results.parquet", index=False)
    results.to_csv(run_dir / "results.csv", index=False)
    config = {
        "name": "fake", "description": "a fake run for the report tests",
        "datasets": {d: {"options": {"image_size": SIZE}, "root": None, "cache_dir": None} for d in DATASETS},
        "combos": [f"{a}+{e}" for a, e in combos("paper")], "seeds": sorted(set(results.seed.astype(int))),
        "train": {"epochs": 2, "batch_size": 4}, "report": True,
    }
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {
        "python": "3.11.9 (main) [GCC 12]", "packages": {"uqseg": "0.1.0", "torch": "2.13.0", "numpy": "2.1.0"},
        "git": {"commit": "abc1234def", "dirty": False},
        "hardware": {"hostname": "fake", "platform": "Linux-6", "machine": "x86_64", "processor": None,
                     "cpu_count": 2, "torch_threads": 1, "cuda": None, "gpus": []},
        "command": ["uqseg", "benchmark"], "executor": "local", "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-01T00:10:00Z", "wall_s": 600.0,
        "stage_wall_s": {"train": 500.0, "predict": 80.0, "metrics": 20.0},
        "total_stage_wall_s": {"train": 500.0, "predict": 80.0, "metrics": 20.0},
    }
    (run_dir / "environment.json").write_text(json.dumps(env, indent=1))
    if with_predictions:
        rng = np.random.default_rng(1)
        for d, info in DATASETS.items():
            for au, eu in PREDICTED:
                for split in ("val", "test", *info["ood"]):
                    write_predictions(run_dir / "predictions" / d / "seed0" / f"{au}+{eu}" / f"{split}.h5", au, eu,
                                      split, info["classes"], rng)
    return run_dir
