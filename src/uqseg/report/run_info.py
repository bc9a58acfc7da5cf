"""What the report reads besides the results: config.yaml and environment.json, both optional so a partial run still
gets a report (conventions.md). The stored prediction files are found with ``uqseg.store``; the datasets (images and
annotators) are opened by the caller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from uqseg.layout import CONFIG_FILE, RunLayout


def read_config(run_dir: Path) -> tuple[dict[str, Any], str]:
    """The run's config as a mapping and as text; empty with a note when missing or unreadable."""
    path = RunLayout(run_dir).config
    try:
        text = path.read_text(encoding="utf-8")
        cfg = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        return {}, f"(no readable {CONFIG_FILE}: {err})"
    return (cfg if isinstance(cfg, dict) else {}), text


def read_environment(run_dir: Path) -> dict[str, Any]:
    """environment.json of the run (`uqseg.experiments.environment`); empty when missing or unreadable."""
    try:
        env = json.loads(RunLayout(run_dir).environment.read_text(encoding="utf-8"))
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
