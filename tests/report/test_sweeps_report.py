"""The sweeps' report tables, readings and figures from hand-made rows (docs/method.md "Open questions")."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from uqseg.report.figures.style import context
from uqseg.report.figures.sweeps import plot_epoch, plot_severity, plot_width
from uqseg.report.sweeps import epoch_reading, severity_reading, severity_table, sweep_sections, width_reading
from uqseg.report.writer import Writer

KEYS = {"dataset": "synthetic-lidc", "seed": 0, "au": "ssn", "eu": "swag"}


def _auroc(analysis: str, split: str, eu: float, au: float, seed: int = 0) -> list[dict]:
    return [{**KEYS, "seed": seed, "analysis": analysis, "split": split, "task": "OODD", "measure": m,
             "metric": "auroc", "aggregation": "border", "value": v, "status": "ok"}
            for m, v in (("EU", eu), ("AU", au))]


def _results() -> pd.DataFrame:
    rows = [*_auroc("main", "ood-noise", 0.7, 0.7),
            *_auroc("severity:ood-noise:1.5", "ood-noise", 0.4, 0.6),
            *_auroc("severity:ood-noise:3", "ood-noise", 0.8, 0.6),
            *_auroc("severity:ood-noise:3", "ood-noise", 0.6, 0.8, seed=1),
            *_auroc("severity:ood-noise:6", "ood-noise", 0.9, 0.5),
            *_auroc("severity:ood-noise:6", "ood-noise", 0.9, 0.5, seed=1)]
    rows.append({**KEYS, "analysis": "severity:ood-noise:6", "split": "ood-noise", "task": "OODD", "measure": "EU",
                 "metric": "auroc", "aggregation": "max", "value": 0.1, "status": "ok"})
    return pd.DataFrame(rows)


def _delta(correct: float, wrong: float) -> float:
    return (math.atan2(correct, wrong) - math.pi / 4) / (math.pi / 4)


def test_severity_table_takes_the_sweep_rows_and_their_delta() -> None:
    table = severity_table(_results())
    assert list(table.severity) == [1.5, 3.0, 6.0, 3.0, 6.0]  # main and other aggregations left out
    first = table.iloc[0]
    assert (first.eu_auroc, first.au_auroc) == (0.4, 0.6)
    assert first.delta == pytest.approx(-0.251332, abs=1e-6)
    assert table.delta.iloc[1] == pytest.approx(_delta(0.8, 0.6))
    assert table.delta.iloc[1] == pytest.approx(0.180669, abs=1e-6)


def test_severity_reading_names_where_the_correct_measure_starts_to_win() -> None:
    text = severity_reading(severity_table(_results()))
    # mean Δ over seeds: at 3 the two seeds cancel (Δ = 0, not > 0); at 6 both are > 0
    assert "synthetic-lidc ood-noise: Δ > 0 for 0% of 1 combination(s) at severity 1.5 and 100% at 6" in text
    assert "most first do at severity 6" in text
    assert "no generated dataset" in severity_reading(severity_table(_results().iloc[:2]))


def _width() -> pd.DataFrame:
    rows = []
    for factor, params, ratio, deltas in ((0.5, 1000, 1e-3, (0.1, -0.5, 0.0)), (1.0, 4000, 1e-2, (0.2, -0.4, 0.1)),
                                          (2.0, 16000, 1e-1, (0.3, -0.3, 0.2))):
        for task, delta in zip(("OODD", "AMB", "CAL"), deltas, strict=True):
            rows.append({**KEYS, "factor": factor, "parameters": float(params), "eu_au_ratio": ratio, "task": task,
                         "delta": delta})
    return pd.DataFrame(rows)


def test_width_reading_gives_the_trend_against_size() -> None:
    text = width_reading(_width())
    assert "synthetic-lidc ssn+swag (1,000 → 16,000 parameters)" in text
    assert "EU/AU 0.001 → 0.1 (Spearman ρ = +1.00)" in text
    assert "Δ AMB -0.5 → -0.3 (Spearman ρ = +1.00)" in text


def test_figures_are_written(tmp_path: Path) -> None:
    with context():
        severity = plot_severity(severity_table(_results()), tmp_path)
        width = plot_width(_width(), tmp_path)
        empty = plot_width(_width().iloc[:0], tmp_path, name="empty")
    for png in (severity, width, empty):
        assert png.stat().st_size > 1000 and png.with_suffix(".pdf").is_file()


def test_sections_only_for_sweeps_with_rows(tmp_path: Path) -> None:
    with context():
        sections = sweep_sections(Writer(tmp_path), _results())
    assert [s.anchor for s in sections] == ["sweep-severity"]
    assert (tmp_path / "figures" / "sweep_severity.png").is_file()
    assert (tmp_path / "tables" / "sweep_severity.csv").is_file()
    assert "most first do at severity 6" in "".join(sections[0].blocks)
    with context():
        assert sweep_sections(Writer(tmp_path), _results().iloc[:2]) == []


def test_epoch_reading_and_figure(tmp_path: Path) -> None:
    rows = [{**KEYS, "epochs": n, "task": task, "performance": perf, "delta": delta}
            for n, perf, delta in ((2, 0.5, -0.2), (4, 0.6, 0.0), (8, 0.7, 0.3)) for task in ("OODD", "AMB", "CAL")]
    table = pd.DataFrame(rows)
    text = epoch_reading(table)
    assert "synthetic-lidc ssn+swag (2 → 8 epochs)" in text
    assert "OODD performance 0.5 → 0.7 (Spearman ρ = +1.00), Δ -0.2 → 0.3 (Spearman ρ = +1.00)" in text
    with context():
        png = plot_epoch(table, tmp_path)
    assert png.stat().st_size > 1000 and png.with_suffix(".pdf").is_file()
