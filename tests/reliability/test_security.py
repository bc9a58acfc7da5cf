"""Security (docs/reliability.md): nothing in a data, cache, checkpoint or weights file is ever executed, and paths from
configs cannot write outside the run directory. Each planted payload would create a marker file if unpickled."""

from __future__ import annotations

import io
import os
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from prepared_fixture import make_prepared

from uqseg.cli import main
from uqseg.data import get_dataset
from uqseg.data.prepared import open_prepared
from uqseg.errors import ConfigError, InputError
from uqseg.experiments.paths import inside_run_dir
from uqseg.results import load_results
from uqseg.training.checkpoint import read_weights, verify_checkpoint

SRC = Path(__file__).resolve().parents[2] / "src" / "uqseg"
SYNTHETIC = {"image_size": 16, "n_train": 2, "n_val": 1, "n_test": 1, "seed": 0, "ambiguity": 1.0}


class Exploit:
    """Unpickling this calls ``os.system('touch MARKER')``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _payloads(marker: Path) -> dict[str, bytes]:
    """A raw pickle, a torch checkpoint holding the exploit, and an npz whose array is a pickled object."""
    torch_blob, npz_blob = io.BytesIO(), io.BytesIO()
    torch.save({"state_dict": {"w": Exploit(marker)}}, torch_blob)
    np.savez(npz_blob, images=np.array([Exploit(marker)], dtype=object))
    return {"pickle": pickle.dumps({"images": Exploit(marker)}), "torch": torch_blob.getvalue(),
            "npz": npz_blob.getvalue()}


def test_payload_really_runs_when_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    pickle.loads(_payloads(marker)["pickle"])
    assert marker.exists()  # so the refusals below are meaningful


@pytest.mark.parametrize("payload", ["pickle", "torch", "npz"])
def test_planted_payloads_are_refused_and_not_executed(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "marker"
    blob = _payloads(marker)[payload]
    # as the synthetic-data cache of a run
    cache = tmp_path / "cache"
    get_dataset("synthetic-lidc", cache_dir=cache, **SYNTHETIC)
    (cached,) = cache.glob("*.npz")
    assert cached.name.startswith("synthetic-lidc-")  # the one cache file the loader reads back
    cached.write_bytes(blob)
    with pytest.raises(InputError, match="corrupt synthetic-data cache"):
        get_dataset("synthetic-lidc", cache_dir=cache, **SYNTHETIC)
    # as a prepared dataset's data file
    root = make_prepared(tmp_path / "prepared")
    (root / "data.h5").write_bytes(blob)
    with pytest.raises(InputError, match=r"data\.h5"):
        open_prepared(root, "lidc")
    # as a training checkpoint, as safetensors weights, as the results table
    for name, read in (("last.ckpt", verify_checkpoint), ("ema.safetensors", read_weights),
                       ("results.parquet", load_results)):
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(InputError, match=re.escape(name)):
            read(tmp_path / name)
    assert not marker.exists()


def test_only_the_trusted_lidc_import_unpickles() -> None:
    """No loader in uqseg calls pickle, torch.load without weights_only=True, or np.load with allow_pickle=True,
    except the explicit ``--trust-pickle`` LIDC import."""
    unsafe = re.compile(r"pickle\.loads?\(|Unpickler|allow_pickle=True|read_pickle"
                        r"|torch\.load\((?![^)]*weights_only=True)")
    found = {str(path.relative_to(SRC)) for path in SRC.rglob("*.py") if unsafe.search(path.read_text())}
    assert found == {"data/prepare/lidc.py", "data/prepare/lidc_sources.py"}, found  # the import and its caller
    assert "trust_pickle" in (SRC / "data" / "prepare" / "lidc_sources.py").read_text()


@pytest.mark.parametrize("relative", ["../escape", "/tmp/escape", "a/../../escape", "C:\\escape", ""])
def test_config_paths_stay_inside_the_run_dir(tmp_path: Path, relative: str) -> None:
    with pytest.raises(ConfigError):
        inside_run_dir(tmp_path / "run", relative, what="datasets.x.cache_dir")


def test_symlink_out_of_the_run_dir_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "data").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ConfigError, match="outside the run directory"):
        inside_run_dir(run_dir, "data/synthetic-lidc", what="datasets.synthetic-lidc.cache_dir")


def test_benchmark_refuses_a_cache_dir_outside_before_any_work(tmp_path: Path, monkeypatch, capsys) -> None:
    preset = tmp_path / "escape.yaml"
    preset.write_text("name: escape\ndatasets:\n  synthetic-lidc:\n    cache_dir: ../outside\n    options: {}\n"
                      "combos: [ssn+none]\nseeds: [0]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["uqseg", "benchmark", "--preset", str(preset), "--out", str(tmp_path / "run"),
                                      "--no-progress"])
    with pytest.raises(SystemExit) as exit_:
        main()
    (message,) = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and "cache_dir" in message and "../outside" in message, message
    assert not (tmp_path / "outside").exists() and not (tmp_path / "run" / "steps.jsonl").exists()
