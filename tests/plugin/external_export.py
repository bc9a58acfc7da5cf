"""Store a uqseg run's own AU samples in the external layout (N×M×S×C×H×W per split), drawn exactly as
``predict_split`` draws them (same batches, instance groups and group seeds), for the round-trip tests."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch
import yaml

from uqseg.experiments.config import inference_config, validate_config
from uqseg.experiments.stepfns import open_dataset
from uqseg.experiments.study import combination_runs, data_params, read_data_record
from uqseg.inference.evaluate import evaluated_splits
from uqseg.inference.predict import group_seed, load_method
from uqseg.layout import RunLayout


def export_samples(run_dir: Path, dataset: str, seed: int, au: str, eu: str) -> dict[str, np.ndarray]:
    """Every evaluated split's samples of combination ``au+eu`` of the run in ``run_dir``, float32."""
    layout = RunLayout(run_dir)
    cfg = validate_config(yaml.safe_load(layout.config.read_text()))
    runs = combination_runs(cfg, read_data_record(run_dir, dataset), dataset, seed, au, eu)
    infer = inference_config(cfg, seed)
    method = load_method(au, eu, [layout.training(r.key) for r in runs], runs, infer)
    opened = open_dataset(run_dir, data_params(cfg, dataset))
    s, m = infer.samples_for(au), method.num_instances
    groups = [list(range(g, min(g + infer.instance_group, m))) for g in range(0, m, infer.instance_group)]
    out = {}
    for name in evaluated_splits(opened):
        batches = []
        for b, batch in enumerate(opened.split(name).batches(infer.batch_size)):
            images = torch.from_numpy(batch["image"])
            with torch.no_grad():
                drawn = [method.sample_instances(images, s, ms, group_seed(infer.seed, b, g)).float()
                         for g, ms in enumerate(groups)]
            batches.append(torch.cat(drawn).permute(2, 0, 1, 3, 4, 5).numpy())
        out[name] = np.concatenate(batches)
    return out


def write_hdf5(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """The arrays as top-level HDF5 datasets named by split."""
    with h5py.File(path, "w") as f:
        for name, value in arrays.items():
            f.create_dataset(name, data=value)
    return path
