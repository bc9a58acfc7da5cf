"""``RUN_DIR/environment.json`` (reproducibility record): versions, git commit, hardware, times, stage walls."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from uqseg.atomic import write_text_atomic
from uqseg.layout import RunLayout

PACKAGES = ("uqseg", "torch", "lightning", "numpy", "scipy", "scikit-learn", "pandas", "pyarrow", "h5py",
            "safetensors", "pydantic", "opencv-python-headless", "pillow", "rich", "typer", "ray")


def package_versions() -> dict[str, str | None]:
    """Installed versions of uqseg and the packages its results depend on (None if not installed)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> dict[str, Any]:
    """The commit of the uqseg source tree and whether it has local changes, when it is a git checkout."""
    source = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=source,
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": bool(status.strip())}


def hardware() -> dict[str, Any]:
    """Host, CPU and GPU description."""
    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() \
        else []
    return {"hostname": socket.gethostname(), "platform": platform.platform(), "machine": platform.machine(),
            "processor": platform.processor() or None, "cpu_count": os.cpu_count(), "torch_threads":
            torch.get_num_threads(), "cuda": torch.version.cuda, "gpus": gpus}


def environment_record(*, start: str, end: str | None, executor: str, stage_wall_s: Mapping[str, float],
                       total_stage_wall_s: Mapping[str, float], wall_s: float | None) -> dict[str, Any]:
    """Everything environment.json records about one invocation of the benchmark."""
    return {
        "python": sys.version, "packages": package_versions(), "git": git_commit(), "hardware": hardware(),
        "command": sys.argv, "executor": executor, "start": start, "end": end, "wall_s": wall_s,
        "stage_wall_s": dict(stage_wall_s), "total_stage_wall_s": dict(total_stage_wall_s),
    }


def write_environment(run_dir: Path, record: Mapping[str, Any]) -> Path:
    """Write ``RUN_DIR/environment.json`` atomically."""
    return write_text_atomic(RunLayout(run_dir).environment, json.dumps(record, indent=1, sort_keys=True))
