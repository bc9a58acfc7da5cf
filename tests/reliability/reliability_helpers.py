"""Shared helpers of the reliability tests: the ``uqseg`` command in a fresh process, and a reduced tiny grid."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DATASET = "synthetic-lidc"
COMBO = "ssn+none"
BENCHMARK = ["benchmark", "--preset", "tiny", "--datasets", DATASET, "--combos", COMBO, "--no-progress",
             "--set", "report=false"]


def uqseg(args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
          timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m uqseg.cli ARGS`` to the end and return its exit code and output."""
    return subprocess.run([sys.executable, "-m", "uqseg.cli", *args], env={**os.environ, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)

