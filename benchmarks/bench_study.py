"""How far a finished study can be trusted: seed-to-seed reproducibility, learning, shifts, border frame, wall time.

Reads a run directory of ``uqseg benchmark`` (several seeds) and prints, per dataset:

- the mean Kendall τ between seed pairs of the performance rank and of the Δ rank, per task and final, and Kendall's W;
- how much of the seeds' disagreement falls on pairs of combinations that the test images cannot tell apart
  (``uqseg.report.reproducibility.resolved_pairs``);
- the lowest ID-test Dice of any combination, per seed;
- per OOD split, the range over combinations of the EU AUROC (border aggregation), seed means, and the best value;
- the median half-width of the AUROC intervals (the standard error target is ≤ 0.03, i.e. half-width ≤ 0.06);
- the border-frame ratio of the ID-test AU maps (``uqseg.metrics.frame.frame_ratio``), median and maximum over
  combinations and seeds;
- the wall time of the run from its step log.

    python benchmarks/bench_study.py runs/quick
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml

from uqseg.experiments.stepfns import open_dataset
from uqseg.metrics.frame import frame_ratio
from uqseg.report.reproducibility import resolved_pairs, seed_reproducibility, variance_components
from uqseg.report.tables import derive
from uqseg.results import id_dice, load_results


def wall_time(run_dir: Path) -> float:
    """Seconds from the first step start to the last step end in ``steps.jsonl``."""
    times = [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines() if line.strip()]
    stamps = [datetime.fromisoformat(t["time"]) for t in times]
    return (max(stamps) - min(stamps)).total_seconds()


def shift_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and OOD split: EU border AUROC (seed mean) min/max over combinations, and the mean CI half-width."""
    rows = results[(results.task == "OODD") & (results.measure == "EU") & (results.aggregation == "border")]
    per_combo = rows.groupby(["dataset", "split", "au", "eu"]).value.mean()
    table = per_combo.groupby(["dataset", "split"]).agg(["min", "max"])
    if {"ci_low", "ci_high"} <= set(rows.columns):
        half = (rows.ci_high - rows.ci_low) / 2
        table["ci_half_width"] = half.groupby([rows.dataset, rows.split]).median()
    return table


def frame_ratios(run_dir: Path) -> pd.DataFrame:
    """The border-frame ratio of every combination's ID-test AU map, per dataset and seed."""
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    rows = []
    for name, entry in config["datasets"].items():
        data = {"dataset": name, "options": entry["options"], "root": entry.get("root"),
                "cache_dir": entry.get("cache_dir") or f"data/{name}"}
        annotations = np.asarray(open_dataset(run_dir, data).split("test").annotations[:])
        for path in sorted((run_dir / "predictions" / name).glob("seed*/*/test.h5")):
            with h5py.File(path, "r") as f:
                ratio = frame_ratio(annotations, f["au"][:])
            rows.append({"dataset": name, "seed": path.parent.parent.name, "combination": path.parent.name,
                         "frame_ratio": ratio})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    run_dir = parser.parse_args().run_dir
    results = load_results(run_dir)
    pd.set_option("display.width", 160)
    print("## Ranking reproducibility (mean Kendall τ between seed pairs; Kendall's W)\n")
    print(seed_reproducibility(results).round(2).to_string(), "\n")
    boot = run_dir / "bootstrap.parquet"
    if boot.exists():
        print("## Where the seeds disagree (pairs resolved by the test-image bootstrap within each seed)\n")
        derived = derive(results, pd.read_parquet(boot))
        print(resolved_pairs(derived).round(2).to_string(), "\n")
        print("## Spread between combinations against spread over training seeds (and its test-image part)\n")
        print(variance_components(derived).round(3).to_string(), "\n")
    dice = id_dice(results)
    print("## Lowest ID-test Dice per seed\n")
    lowest = dice.loc[dice.groupby(["dataset", "seed"]).dice.idxmin()]
    print(lowest.assign(combination=lowest.au + "+" + lowest.eu)[["dataset", "seed", "combination", "dice"]]
          .round(3).to_string(index=False), "\n")
    print("## EU AUROC (border) per OOD split: range over combinations of the seed means\n")
    print(shift_table(results).round(3).to_string(), "\n")
    frames = frame_ratios(run_dir)
    print("## Border-frame ratio of the ID-test AU maps (target ≤ 2)\n")
    print(frames.groupby("dataset").frame_ratio.describe()[["count", "50%", "max"]].round(2).to_string(), "\n")
    worst = frames.loc[frames.groupby("dataset").frame_ratio.idxmax()]
    print(worst.round(2).to_string(index=False), "\n")
    print(f"wall time of the run: {wall_time(run_dir) / 60:.1f} min")


if __name__ == "__main__":
    main()
