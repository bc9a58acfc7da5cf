"""``uqseg predict``: TU/AU/EU maps of one combination for one user image, from a run directory's trained runs.

The run directory's ``config.yaml`` and dataset record say which training runs the combination needs (the same
plan as the benchmark's, docs/method.md §6 shared runs) and the model's geometry; nothing is retrained. The image
is fitted into the model's square input (aspect ratio kept), predicted by the benchmark's streamed inference
(``uqseg.inference.predict.predict_split``, docs/method.md §1) and the maps are brought back to its own size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import yaml

from uqseg.atomic import atomic_path
from uqseg.data.contract import Split
from uqseg.errors import ConfigError, InputError
from uqseg.experiments.combination import split_combo
from uqseg.experiments.config import BenchmarkConfig, inference_config, validate_config
from uqseg.experiments.presets import apply_overrides
from uqseg.layout import RunLayout

NORMALISE_CHOICES = ("dataset", "standardise", "none")
MAPS = ("tu", "au", "eu", "mean")


def predict_folder(run_dir: Path, image: Path, combo: str) -> Path:
    """Default output folder RUN_DIR/predict/<image name>-<hash of its absolute path>/<combo>: distinct input files
    (``x.png`` and ``x.jpg``, or ``x.png`` in two folders) never share one."""
    digest = hashlib.sha256(str(Path(image).resolve()).encode()).hexdigest()[:8]
    return RunLayout(run_dir).user_prediction(f"{Path(image).name}-{digest}", combo)


def load_run_config(run_dir: Path, overrides: Sequence[str] = ()) -> BenchmarkConfig:
    """The study recorded in ``RUN_DIR/config.yaml`` with ``overrides`` (``KEY.SUBKEY=VALUE``) applied."""
    path = RunLayout(run_dir).config
    if not Path(run_dir).is_dir():
        raise InputError(f"run directory {run_dir} does not exist")
    if not path.is_file():
        raise InputError(f"{run_dir} has no {path.name}; train the combination first: "
                         f"uqseg train --dataset NAME --combo AU+EU --out {run_dir}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise InputError(f"cannot read {path}: {' '.join(str(err).split())}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path} is not a YAML mapping")
    return validate_config(apply_overrides(raw, overrides), source=str(path))


def _choose(what: str, given: Any, available: Sequence[Any], flag: str) -> Any:
    if given is not None:
        if given not in available:
            raise ConfigError(f"{flag} {given}: the run directory has {what} {', '.join(map(str, available))}")
        return given
    if len(available) != 1:
        raise ConfigError(f"the run directory has {what} {', '.join(map(str, available))}; choose one with {flag}")
    return available[0]


def trained_runs(run_dir: Path, cfg: BenchmarkConfig, dataset: str, seed: int, au: str, eu: str) -> list[Any]:
    """The planned runs of ``au+eu`` (member 1 first); InputError when one is not trained to completion."""
    from uqseg.experiments.study import combination_runs, read_data_record
    from uqseg.training.checkpoint import COMPLETE_FILE

    runs = combination_runs(cfg, read_data_record(run_dir, dataset), dataset, seed, au, eu)
    missing = [r.name for r in runs if not (RunLayout(run_dir).training(r.key) / COMPLETE_FILE).is_file()]
    if missing:
        raise InputError(f"{au}+{eu} on {dataset} (seed {seed}) is not trained in {run_dir} (missing runs: "
                         f"{', '.join(missing)}); run uqseg train --dataset {dataset} --combo {au}+{eu} "
                         f"--seed {seed} --out {run_dir} first")
    return runs


def predict_image(run_dir: Path, combo: str, image_path: Path, out_dir: Path | None = None, *,
                  dataset: str | None = None, seed: int | None = None, normalise: str = "dataset",
                  overrides: Sequence[str] = ()) -> dict[str, Path]:
    """Write ``tu/au/eu/mean.npy`` (at the image's own H×W), ``predictions.h5`` (in the model's frame) and
    ``figure.png`` for one image; return their paths. ``overrides`` change the inference settings
    (``inference.samples=20``) in the grammar of ``uqseg benchmark --set``."""
    from uqseg.experiments.stepfns import open_dataset
    from uqseg.experiments.study import data_params
    from uqseg.inference.predict import load_method, predict_split
    from uqseg.inference.user_image import channel_stats, read_image, to_image_size, to_model_input

    au, eu = split_combo(combo)
    if normalise not in NORMALISE_CHOICES:
        raise ConfigError(f"--normalise {normalise!r}: choose one of {', '.join(NORMALISE_CHOICES)}")
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir, overrides)
    dataset = _choose("datasets", dataset, list(cfg.datasets), "--dataset")
    seed = _choose("seeds", seed, cfg.dataset_seeds(dataset), "--seed")
    runs = trained_runs(run_dir, cfg, dataset, seed, au, eu)
    raw = read_image(Path(image_path))
    model = runs[0].model
    stats = None
    if normalise == "dataset":
        stats = channel_stats(open_dataset(run_dir, data_params(cfg, dataset)).split("train").images)
    x, placement = to_model_input(raw, in_channels=model.in_channels, size=model.image_size, normalise=normalise,
                                  stats=stats)
    infer = inference_config(cfg, seed)
    method = load_method(au, eu, [RunLayout(run_dir).training(r.key) for r in runs], runs, infer)
    image = x.numpy()
    split = Split("image", image, np.zeros((1, 1, *image.shape[-2:]), np.int64))
    out_dir = Path(out_dir) if out_dir is not None else predict_folder(run_dir, Path(image_path), f"{au}+{eu}")
    out_dir.mkdir(parents=True, exist_ok=True)
    stored = predict_split(au, eu, method, split, out_dir / "predictions.h5", infer)
    with h5py.File(stored, "r") as f:
        arrays = {name: np.asarray(to_image_size(f[name][0].astype(np.float32), placement), np.float32)
                  for name in MAPS}
        samples = to_image_size(f["samples"][0, :4].astype(np.float32), placement) if len(f["samples"]) else None
    paths = {"predictions": stored}
    for name, value in arrays.items():
        with atomic_path(out_dir / f"{name}.npy") as tmp, open(tmp, "wb") as handle:
            np.save(handle, value, allow_pickle=False)
        paths[name] = out_dir / f"{name}.npy"
    paths["figure"] = _figure(out_dir / "figure.png", raw, samples, arrays, f"{au}+{eu}: {Path(image_path).name}")
    return paths


def _figure(path: Path, image: np.ndarray, samples: np.ndarray | None, maps: dict[str, np.ndarray],
            title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = samples.argmax(1) if samples is not None else np.zeros((0,))
    panels = [("image", image.mean(0), "gray")] + [(f"sample {i + 1}", s, "viridis") for i, s in enumerate(shown)]
    panels += [(name.upper(), maps[name], "magma") for name in ("tu", "au", "eu")]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6))
    for ax, (name, value, cmap) in zip(axes, panels, strict=True):
        im = ax.imshow(value, cmap=cmap)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
        if name in ("TU", "AU", "EU"):
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(title, fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
