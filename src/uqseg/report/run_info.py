"""What the report reads besides the results: config.yaml, environment.json, the stored prediction files and the
datasets (for images and annotators), all optional so a partial run still gets a report (conventions.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from uqseg.data import Dataset
from uqseg.errors import UqsegError
from uqseg.inference.store import is_complete
from uqseg.report.names import order_key

CONFIG_FILE = "config.yaml"
ENVIRONMENT_FILE = "environment.json"


def read_config(run_dir: Path) -> tuple[dict[str, Any], str]:
    """The run's config as a mapping and as text; empty with a note when missing or unreadable."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
        cfg = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        return {}, f"(no readable {CONFIG_FILE}: {err})"
    return (cfg if isinstance(cfg, dict) else {}), text


def read_environment(run_dir: Path) -> dict[str, Any]:
    """environment.json of the run (`uqseg.experiments.environment`); empty when missing or unreadable."""
    try:
        env = json.loads((Path(run_dir) / ENVIRONMENT_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return env if isinstance(env, dict) else {}


def _fmt_seconds(value: Any) -> str:
    try:
        s = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def _hardware(hw: dict[str, Any]) -> str:
    if not hw:
        return "—"
    parts = [hw.get("platform"), f"{hw['cpu_count']} CPUs" if hw.get("cpu_count") else None,
             "GPUs: " + ", ".join(hw["gpus"]) if hw.get("gpus") else "no GPU"]
    return ", ".join(str(p) for p in parts if p)


def summary_table(cfg: dict[str, Any], env: dict[str, Any], results: pd.DataFrame) -> pd.DataFrame:
    """The run summary: name, datasets, combinations, seeds, versions, git commit, hardware, wall times."""
    git = env.get("git") or {}
    hw = env.get("hardware") or {}
    pkgs = env.get("packages") or {}
    seeds = sorted({int(s) for s in results.seed}) if len(results) else cfg.get("seeds", [])
    combos = results[["au", "eu"]].drop_duplicates() if len(results) else pd.DataFrame(columns=["au", "eu"])
    commit = git.get("commit") or "unknown"
    if git.get("dirty"):
        commit += " (with uncommitted changes)"
    stages = env.get("total_stage_wall_s") or env.get("stage_wall_s") or {}
    rows = [
        ("run name", cfg.get("name", "—")),
        ("datasets", ", ".join(sorted(set(results.dataset))) if len(results) else "—"),
        ("combinations", f"{len(combos)}"),
        ("seeds", ", ".join(str(s) for s in seeds) or "—"),
        ("uqseg", pkgs.get("uqseg") or "—"),
        ("git commit", commit),
        ("python", str(env.get("python", "—")).split()[0] if env.get("python") else "—"),
        ("packages", ", ".join(f"{k} {v}" for k, v in pkgs.items() if v and k != "uqseg") or "—"),
        ("hardware", _hardware(hw)),
        ("executor", env.get("executor", "—")),
        ("started / ended", f"{env.get('start', '—')} / {env.get('end') or '—'}"),
        ("wall time (last invocation)", _fmt_seconds(env.get("wall_s"))),
        ("wall time per stage (all invocations)", ", ".join(f"{k} {_fmt_seconds(v)}" for k, v in stages.items())
         or "—"),
    ]
    return pd.DataFrame(rows, columns=["item", "value"])


def prediction_dirs(run_dir: Path, dataset: str) -> list[tuple[int, str, str, Path]]:
    """(seed, au, eu, folder) of every combination with a complete ID test predictions file, lowest seed first."""
    base = Path(run_dir) / "predictions" / dataset
    found = []
    for seed_dir in sorted(base.glob("seed*")) if base.is_dir() else []:
        if not seed_dir.name[4:].isdigit():
            continue
        for combo in seed_dir.iterdir():
            au, sep, eu = combo.name.partition("+")
            if sep and is_complete(combo / "test.h5"):
                found.append((int(seed_dir.name[4:]), au, eu, combo))
    return sorted(found, key=lambda t: (t[0], order_key(t[1], t[2])))


def open_datasets(run_dir: Path, cfg: dict[str, Any]) -> dict[str, Dataset | str]:
    """Each configured dataset opened as the benchmark opens it (its cache in the run directory or its root), or
    the reason it could not be opened."""
    from uqseg.experiments.config import validate_config
    from uqseg.experiments.stepfns import open_dataset
    from uqseg.experiments.study import data_params

    try:
        bench = validate_config(cfg, source=str(Path(run_dir) / CONFIG_FILE))
    except UqsegError as err:
        return {name: f"config not usable: {err}" for name in cfg.get("datasets") or {}}
    out: dict[str, Dataset | str] = {}
    for name in bench.datasets:
        try:
            out[name] = open_dataset(Path(run_dir), data_params(bench, name))
        except (UqsegError, OSError, ImportError, KeyError, TypeError, ValueError) as err:
            out[name] = f"{type(err).__name__}: {err}"
    return out
