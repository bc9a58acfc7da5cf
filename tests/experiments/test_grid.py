"""The tiny preset's whole grid through ``uqseg benchmark``: every metric of every combination on both
synthetic datasets, the run directory's files, the terminal summary, and a rerun that redoes nothing."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import yaml
from helpers import GRID_DATASETS, GRID_OVERRIDES

from uqseg.experiments.config import GEOMETRY_FIELDS, VALID_COMBOS, validate_config
from uqseg.experiments.presets import resolve_config
from uqseg.experiments.runner import run_benchmark
from uqseg.experiments.steps import is_complete, read_step_log
from uqseg.experiments.study import data_steps, study_graph
from uqseg.results import RESULT_COLUMNS, load_results

MEASURES = {"TU", "AU", "EU"}
AGGREGATIONS = {"image", "patch", "threshold", "area", "border"}


def _expected_rows(splits: list[str], ood: list[str]) -> set[tuple[str, str, str, str, str]]:
    """(split, task, measure, metric, aggregation) of one combination (docs/conventions.md "Tidy results")."""
    rows = set()
    for split in splits:
        rows |= {(split, "SEG", "pred", m, "none") for m in ("dice", "ged_dice", "ged_iou")}
        rows |= {(split, "AMB", u, m, "none") for u in MEASURES for m in ("ncc", "ncc_oracle")}
        rows |= {(split, "CAL", u, m, "none") for u in MEASURES for m in ("ace_global", "ace_image")}
    for split in ood:
        rows |= {(split, "OODD", u, "auroc", a) for u in MEASURES for a in AGGREGATIONS}
        rows |= {(split, "COLLAPSE", "EU/AU", "eu_au_ratio", a) for a in AGGREGATIONS}
    return rows


def test_every_metric_of_every_combination(tiny_grid) -> None:
    results = load_results(tiny_grid["dir"])
    assert list(results.columns) == list(RESULT_COLUMNS)
    assert set(results.dataset) == set(GRID_DATASETS)
    for dataset, rows in results.groupby("dataset"):
        combos = set(rows.au + "+" + rows.eu)
        assert combos == set(VALID_COMBOS), dataset
        ood = sorted(s for s in set(rows.split) if s.startswith("ood"))
        assert len(ood) == (4 if "lidc" in dataset else 1)
        present = set(rows.split)
        splits = ["test", *ood] + (["val"] if "val" in present else [])
        expected = _expected_rows(splits, ood)
        for (au, eu), combo in rows.groupby(["au", "eu"]):
            got = set(zip(combo.split, combo.task, combo.measure, combo.metric, combo.aggregation, strict=True))
            assert expected <= got, (dataset, au, eu, sorted(expected - got)[:5])
            assert len(got) == len(combo), "a row appears twice"
    ok = results.status == "ok"
    assert np.isfinite(results.value[ok]).all()
    assert results.value[~ok].isna().all() and (results.status[~ok].str.len() > 0).all()
    assert ok.mean() > 0.95  # NaN only where a metric is undefined (e.g. EU/AU with a zero AU)


def test_run_directory_files(tiny_grid) -> None:
    run_dir, run = tiny_grid["dir"], tiny_grid["run"]
    raw = yaml.safe_load((run_dir / "config.yaml").read_text())
    geometry = {name: {k: raw["datasets"][name]["model"].pop(k) for k in GEOMETRY_FIELDS} for name in GRID_DATASETS}
    assert geometry == {"synthetic-lidc": {"in_channels": 1, "num_classes": 2, "image_size": 16},
                        "synthetic-chaksu": {"in_channels": 3, "num_classes": 3, "image_size": 16}}  # what ran
    assert not any(k in raw["model"] for k in GEOMETRY_FIELDS)  # the global section does not claim a geometry
    cfg = validate_config(raw)
    assert cfg == resolve_config("tiny", datasets=[",".join(GRID_DATASETS)], overrides=GRID_OVERRIDES)
    env = json.loads((run_dir / "environment.json").read_text())
    assert env["packages"]["torch"] and env["hardware"]["cpu_count"] and env["end"] and env["wall_s"] > 0
    assert set(env["stage_wall_s"]) >= {"data", "train", "predict", "metrics", "results"}
    csv = load_results(run_dir / "results.csv")
    pd.testing.assert_frame_equal(csv, load_results(run_dir), check_exact=False, rtol=1e-12)
    for dataset in GRID_DATASETS:
        for combo in VALID_COMBOS:
            assert (run_dir / "metrics" / dataset / "seed0" / f"{combo}.parquet").is_file()
            assert (run_dir / "predictions" / dataset / "seed0" / combo / "test.h5").is_file()
    assert run.report is None and not (run_dir / "report").exists()
    assert not list(run_dir.rglob(".tmp-*"))


def test_summary_printed(tiny_grid) -> None:
    printed = tiny_grid["printed"]
    assert f"results: {tiny_grid['dir'] / 'results.parquet'}" in printed
    for dataset in GRID_DATASETS:
        assert f"{dataset}: ranks" in printed
    for combo in VALID_COMBOS:  # one row per dataset table
        assert len(re.findall(rf"│ {re.escape(combo)} +│ +[0-9.]+ │", printed)) == len(GRID_DATASETS), combo


def test_rerun_redoes_nothing(tiny_grid) -> None:
    run_dir = tiny_grid["dir"]
    before = (run_dir / "results.parquet").stat().st_mtime_ns
    n_events = len(read_step_log(run_dir))
    cfg = resolve_config("tiny", datasets=[",".join(GRID_DATASETS)], overrides=GRID_OVERRIDES)
    run = run_benchmark(cfg, run_dir, progress=False)
    assert run.done == 0 and run.skipped > 200
    new = read_step_log(run_dir)[n_events:]
    assert {e["status"] for e in new} == {"skipped"}
    assert (run_dir / "results.parquet").stat().st_mtime_ns == before


def test_step_keys_follow_their_inputs(tiny_grid) -> None:
    """An inference setting changes the prediction steps' keys but not the training steps' (they stay complete)."""
    run_dir = tiny_grid["dir"]
    cfg = resolve_config("tiny", datasets=[",".join(GRID_DATASETS)], overrides=[*GRID_OVERRIDES, "inference.samples=3"])
    graph = study_graph(cfg, run_dir, data_steps(cfg))
    by_kind: dict[str, list[bool]] = {}
    for step in graph:
        by_kind.setdefault(step.kind, []).append(is_complete(run_dir, step))
    # Per dataset: 4 shared + 4 dropout + 4 ensemble member 2 + 4 sub-ensemble mask runs (TTA reuses softmax's runs).
    assert all(by_kind["train"]) and len(by_kind["train"]) == 2 * 16
    assert not any(by_kind["predict"]) and not any(by_kind["metrics"]) and not any(by_kind["results"])
    assert "report" not in by_kind
