"""``uqseg benchmark`` behind the CLI: resolve the config, run the study, print the summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from uqseg.experiments.presets import DEFAULT_PRESET, resolve_config
from uqseg.experiments.results import load_results
from uqseg.experiments.runner import BenchmarkRun, run_benchmark
from uqseg.experiments.summary import print_summary, ranking_table

RUNS_DIR = Path("runs")


def benchmark_command(
    *,
    preset: str = DEFAULT_PRESET,
    datasets: Sequence[str] | None = None,
    combos: Sequence[str] | None = None,
    seeds: int | None = None,
    out: Path | None = None,
    executor: str | None = None,
    ray_address: str | None = None,
    overrides: Sequence[str] = (),
    progress: bool = True,
    console: Console | None = None,
) -> BenchmarkRun:
    """Validate everything first (ConfigError naming the key), then run in ``out`` (default ``runs/<preset>``)."""
    cfg = resolve_config(preset, overrides=overrides, datasets=datasets or None, combos=combos or None, seeds=seeds,
                         executor=executor, ray_address=ray_address)
    run = run_benchmark(cfg, out if out is not None else RUNS_DIR / cfg.name, progress=progress)
    print_summary(ranking_table(load_results(run.results)), results=str(run.results),
                  report=str(run.report) if run.report else None, console=console or Console())
    return run
