"""DDP training on CPU with two gloo processes: one tiny run completes and writes its outputs once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).with_name("ddp_script.py")


def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / "run.json").read_text())
    assert record["world_size"] == 2
    assert record["images_seen"] == 2 * 16
    assert record["swag_epochs"] == [1]
    assert (out / "COMPLETE").exists() and (out / "swag.safetensors").exists()
    ema, raw = load_file(out / "ema.safetensors"), load_file(out / "raw.safetensors")
    assert all(torch.isfinite(v).all() for v in [*ema.values(), *raw.values()])
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 2 * 4
