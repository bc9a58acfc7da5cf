"""What ``uqseg benchmark``, ``train``, ``evaluate``, ``predict`` and ``report`` do behind the CLI: check the
paths they are given, resolve the config, run the step DAG, print the outcome (docs/architecture.md ``cli.py``)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from uqseg.errors import ConfigError, InputError
from uqseg.experiments.presets import DEFAULT_PRESET, resolve_config
from uqseg.experiments.runner import BenchmarkRun, run_benchmark
from uqseg.experiments.summary import print_summary, ranking_table
from uqseg.layout import RunLayout
from uqseg.results import load_results

RUNS_DIR = Path("runs")
MAX_SHOWN = 16


def check_out_dir(path: Path, flag: str = "--out") -> Path:
    """``path`` if it is a directory or can be created as one, else a ConfigError naming ``flag``."""
    path = Path(path)
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                what = "is" if parent == path else f"lies under {parent}, which is"
                raise ConfigError(f"{flag} {path} {what} a file, not a directory")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ConfigError(f"{flag} {path}: {parent} is not writable")
            break
    return path


def check_input_file(path: Path, flag: str) -> Path:
    """``path`` if it is a readable file, else an InputError naming ``flag``."""
    if not Path(path).exists():
        raise InputError(f"{flag} {path}: no such file")
    if not Path(path).is_file():
        raise InputError(f"{flag} {path} is a directory, not a file")
    return Path(path)


def check_run_dir(path: Path, flag: str = "RUN_DIR") -> Path:
    """``path`` if it is an existing directory, else an InputError naming ``flag``."""
    if not Path(path).exists():
        raise InputError(f"{flag} {path} does not exist")
    if not Path(path).is_dir():
        raise InputError(f"{flag} {path} is a file, not a run directory")
    return Path(path)


def user_cache_dir() -> Path:
    """uqseg's cache folder: ``$XDG_CACHE_HOME/uqseg``, else ``~/.cache/uqseg``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "uqseg"


def combo_option(combo: str | None, au: str | None, eu: str | None) -> str:
    """The combination from ``--combo AU+EU`` or from ``--au`` and ``--eu`` (exactly one of the two forms)."""
    if combo is not None and (au is not None or eu is not None):
        raise ConfigError("give either --combo AU+EU or --au and --eu, not both")
    if combo is None and (au is None or eu is None):
        raise ConfigError("name the combination with --combo AU+EU (or --au and --eu)")
    return combo if combo is not None else f"{au}+{eu}"


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
    run_dir = check_out_dir(out if out is not None else RUNS_DIR / cfg.name)
    run = run_benchmark(cfg, run_dir, progress=progress)
    print_summary(ranking_table(load_results(run.results)), results=str(run.results),
                  report=str(run.report) if run.report else None, console=console or Console())
    return run


def combination_command(*, stage: str, dataset: str, combo: str, out: Path, preset: str, seed: int,
                        epochs: int | None, overrides: Sequence[str], progress: bool, console: Console) -> object:
    """``uqseg train`` / ``uqseg evaluate``: warn about short warm-ups, run the one-combination study, print where
    the runs are and (``evaluate``) the main figures."""
    from uqseg.experiments.combination import combination_config, execute_combination, main_figures, warmup_warnings

    cfg = combination_config(dataset, combo, preset=preset, seed=seed, epochs=epochs, overrides=overrides)
    out = check_out_dir(out)
    for line in warmup_warnings(cfg):
        console.print(f"warning: {line}", style="yellow", highlight=False, soft_wrap=True)
    run = execute_combination(cfg, out, stage=stage, progress=progress)
    for path in run.training:
        console.print(f"trained: {path}", highlight=False, soft_wrap=True)
    if run.metrics is not None:
        print_figures(main_figures(pd.read_parquet(run.metrics)), f"{run.au}+{run.eu} on {run.dataset} "
                      f"(seed {run.seed})", console)
        console.print(f"metrics: {run.metrics}", highlight=False, soft_wrap=True)
    return run


def external_command(predictions: Path, dataset: str, out: Path, *, combo: str | None, preset: str, seed: int,
                     overrides: Sequence[str], progress: bool, console: Console) -> Path:
    """``uqseg evaluate --predictions``: score the stored samples (``experiments.external``), print the main figures
    and where the results and report are."""
    from uqseg.experiments.combination import main_figures
    from uqseg.experiments.external import evaluate_external

    layout = evaluate_external(predictions, dataset, out, combo=combo, preset=preset, seed=seed,
                               overrides=overrides, progress=progress)
    results = pd.read_parquet(layout.results)
    (au, eu), = set(zip(results.au, results.eu, strict=True))
    print_figures(main_figures(results), f"{au}+{eu} from {predictions.name} on {dataset} (seed {seed})", console)
    console.print(f"results: {layout.results}\nreport: {layout.report_index}", highlight=False, soft_wrap=True)
    return layout.results


def _cell(value: object) -> str:
    return "" if not isinstance(value, float) or math.isnan(value) else f"{value:.3f}"


def print_figures(figures: pd.DataFrame, title: str, console: Console) -> None:
    """Print ``main_figures``' table: one row per task, metric and split, columns TU, AU, EU (or pred)."""
    table = Table(title=title, title_justify="left")
    for name in ("task", "metric", "split", "TU", "AU", "EU", "pred"):
        table.add_column(name, justify="left" if name in ("task", "metric", "split") else "right")
    for row in figures.to_dict("records"):
        table.add_row(row["task"], row["metric"], row["split"],
                      *(_cell(row.get(m)) for m in ("TU", "AU", "EU", "pred")))
    console.print(table)


def report_command(run_dir: Path) -> Path:
    """Build ``RUN_DIR/report/index.html``; a directory without results says how to make them."""
    from uqseg.report import build_report

    layout = RunLayout(check_run_dir(run_dir))
    if not layout.results.is_file():
        made_by = "uqseg evaluate or train, which write one combination's metrics but no study results" \
            if (layout.root / "metrics").is_dir() or layout.training_root.is_dir() else "no uqseg benchmark"
        raise InputError(f"{run_dir} has no {layout.results.name} ({made_by}); a report needs a study: run "
                         f"uqseg benchmark --out {run_dir} (e.g. with --preset tiny --combos ...) or point "
                         "uqseg report at a benchmark's run directory")
    return build_report(run_dir)


def int_list(text: str, flag: str) -> list[int]:
    """A list of integers in the ``--set`` grammar (``[1,2]``), the brackets optional (``1,2``)."""
    from uqseg.experiments.presets import parse_value

    stripped = text.strip()
    value = parse_value(stripped if stripped.startswith("[") else f"[{stripped}]")
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool)
                                                            for v in value):
        raise ConfigError(f"{flag} {text!r} must be a list of integers, e.g. 1,2,4 or [1,2,4]")
    return value


def shown_count(n: int, echo: Callable[[str], object]) -> int:
    """``--n`` capped at MAX_SHOWN images, saying so when it is."""
    if n > MAX_SHOWN:
        echo(f"--n {n} is more than {MAX_SHOWN} images; showing {MAX_SHOWN}")
        return MAX_SHOWN
    return n
