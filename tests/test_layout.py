"""The run directory's layout (uqseg.layout): every path once, and the relative form the step graph records."""

from __future__ import annotations

from pathlib import Path

from uqseg.layout import RunLayout, parse_combo_dir, parse_seed_dir, replicates_path


def test_paths_under_a_run_directory(tmp_path: Path) -> None:
    run = RunLayout(tmp_path)
    assert run.config == tmp_path / "config.yaml" and run.environment == tmp_path / "environment.json"
    assert run.step_log == tmp_path / "steps.jsonl" and run.lock == tmp_path / ".lock"
    assert run.done == tmp_path / ".uqseg" / "done" and run.dataset_records == tmp_path / ".uqseg" / "datasets"
    assert (run.results, run.results_csv, run.bootstrap) == (
        tmp_path / "results.parquet", tmp_path / "results.csv", tmp_path / "bootstrap.parquet")
    assert run.report_index == tmp_path / "report" / "index.html"
    assert run.training("abc123") == tmp_path / "training" / "abc123"
    assert run.prediction_file("lidc", 2, "ssn", "swag_d", "ood-blur") == (
        tmp_path / "predictions" / "lidc" / "seed2" / "ssn+swag_d" / "ood-blur.h5")
    assert run.metrics("lidc", 2, "ssn", "swag_d") == tmp_path / "metrics" / "lidc" / "seed2" / "ssn+swag_d.parquet"
    assert run.metrics_root == tmp_path / "metrics"
    assert replicates_path(run.metrics("lidc", 2, "ssn", "swag_d")).name == "ssn+swag_d.bootstrap.parquet"
    assert RunLayout(str(tmp_path)) == run


def test_relative_paths_are_the_recorded_strings() -> None:
    rel = RunLayout.relative()
    assert rel.predictions("d", 0, "softmax", "dropout").as_posix() == "predictions/d/seed0/softmax+dropout"
    assert rel.metrics("d", 1, "ssn", "none").as_posix() == "metrics/d/seed1/ssn+none.parquet"
    assert rel.data("synthetic-lidc").as_posix() == "data/synthetic-lidc"
    assert rel.report_index.as_posix() == "report/index.html" and rel.results.as_posix() == "results.parquet"


def test_folder_names_parse_back() -> None:
    assert parse_seed_dir("seed12") == 12 and parse_seed_dir("seedx") is None and parse_seed_dir("s1") is None
    assert parse_combo_dir("prob_unet+swag_d") == ("prob_unet", "swag_d") and parse_combo_dir("notes") is None


def test_user_predictions_live_under_predict() -> None:
    layout = RunLayout("/runs/q")
    assert layout.user_prediction("x.png-0123abcd", "ssn+swag") == Path("/runs/q/predict/x.png-0123abcd/ssn+swag")
