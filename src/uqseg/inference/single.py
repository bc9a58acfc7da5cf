"""``uqseg predict``: TU/AU/EU maps of one combination for one user image, from a run directory's trained runs.

The trained runs are found through their ``run.json`` records under ``RUN_DIR/training/``; the combination's runs
are the ones the run planner would ask for (docs/method.md §6 shared runs), so nothing is retrained here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uqseg.atomic import atomic_path
from uqseg.errors import ConfigError, InputError
from uqseg.inference.config import InferenceConfig
from uqseg.inference.predict import group_seed, load_method
from uqseg.inference.user_image import channel_stats, read_image, to_image_size, to_model_input
from uqseg.training.plan import TrainingRun, member_seed, validate_combination
from uqseg.uncertainty import UncertaintyAccumulator, discretize


def _load_run(record_path: Path) -> TrainingRun | None:
    from uqseg.training.checkpoint import COMPLETE_FILE
    from uqseg.training.config import TrainConfig
    from uqseg.training.runner import make_model_config

    if not (record_path.parent / COMPLETE_FILE).is_file():
        return None
    try:
        record = json.loads(record_path.read_text())
        d = record["run"]
        run = TrainingRun(dataset=d["dataset"], dataset_options=d["dataset_options"], au=d["au"],
                          family=d["family"], member=d["member"], seed=d["seed"],
                          model=make_model_config(d["model"]), train=TrainConfig(**d["train"]))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"cannot read training record {record_path}: {err}") from None
    return run if run.key == record.get("key") else None


def find_runs(root: Path, au: str, eu: str, *, dataset: str | None = None, seed: int | None = None,
              ensemble_size: int | None = None) -> list[tuple[TrainingRun, Path]]:
    """The complete trained runs of ``au+eu`` under ``root/training``, member 1 first (one candidate set only)."""
    validate_combination(au, eu)
    runs = [r for p in sorted(Path(root).glob("training/*/run.json")) if (r := _load_run(p)) is not None]
    runs = [r for r in runs if r.au == au and (dataset is None or r.dataset == dataset)]
    family = "dropout" if eu == "dropout" else "shared"
    bases = [r for r in runs if r.family == family and (seed is None or r.seed == seed)]
    if not bases:
        raise InputError(f"no complete trained {family} run of {au} under {Path(root) / 'training'}; run "
                         f"`uqseg train` or `uqseg evaluate` for {au}+{eu} first")
    if len(bases) > 1:
        found = ", ".join(f"{r.dataset}/seed{r.seed}/{r.key}" for r in bases)
        raise ConfigError(f"several trained runs fit {au}+{eu} ({found}); choose one with --dataset and --seed")
    base = bases[0]
    chosen = [base]
    if eu == "ensemble":
        members = {r.member: r for r in runs if r.family == "ensemble" and r.dataset == base.dataset
                   and r.seed == member_seed(base.seed, r.member) and r.model == base.model}
        count = ensemble_size or 1 + len(members)
        missing = [m for m in range(2, count + 1) if m not in members]
        if missing:
            raise InputError(f"ensemble members {missing} of {au} are not trained under {root}")
        chosen += [members[m] for m in range(2, count + 1)]
    return [(r, Path(root) / "training" / r.key) for r in chosen]


def predict_image(root: Path, au: str, eu: str, image_path: Path, out_dir: Path, cfg: InferenceConfig, *,
                  dataset: str | None = None, seed: int | None = None, normalise: str = "dataset") -> dict[str, Path]:
    """Write ``tu/au/eu/mean.npy`` (at the image's own H×W) and ``figure.png`` for one image into ``out_dir``; return
    their paths."""
    pairs = find_runs(root, au, eu, dataset=dataset, seed=seed,
                      ensemble_size=cfg.ensemble_size if eu == "ensemble" else None)
    base = pairs[0][0]
    stats = None
    if normalise == "dataset":
        from uqseg.data import get_dataset

        stats = channel_stats(get_dataset(base.dataset, **base.dataset_options).split("train").images)
    raw = read_image(image_path)
    x, placement = to_model_input(raw, in_channels=base.model.in_channels, size=base.model.image_size,
                                  normalise=normalise, stats=stats)
    method = load_method(au, eu, [p for _, p in pairs], [r for r, _ in pairs], cfg).to(cfg.device)
    s, acc = cfg.samples_for(au), UncertaintyAccumulator()
    first: torch.Tensor | None = None
    groups = range(0, method.num_instances, cfg.instance_group)
    for g, start in enumerate(groups):
        ms = list(range(start, min(start + cfg.instance_group, method.num_instances)))
        with torch.no_grad():
            samples = method.sample_instances(x.to(cfg.device), s, ms, group_seed(cfg.seed, 0, g)).float().cpu()
        if cfg.discretize:
            samples = discretize(samples)
        for i in range(len(ms)):
            (acc.update_no_eu if eu == "none" else acc.update)(samples[i])
        first = samples[0, :, 0] if first is None else first
    maps = acc.result()
    arrays = {name: np.asarray(to_image_size(getattr(maps, name)[0], placement), dtype=np.float32)
              for name in ("tu", "au", "eu", "mean")}
    for name, value in arrays.items():
        if not np.isfinite(value).all():
            raise InputError(f"{au}+{eu}: non-finite {name} map for {image_path}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, value in arrays.items():
        with atomic_path(out_dir / f"{name}.npy") as tmp, open(tmp, "wb") as handle:
            np.save(handle, value, allow_pickle=False)
        paths[name] = out_dir / f"{name}.npy"
    shown = to_image_size(first[:4], placement) if first is not None else None
    paths["figure"] = _figure(out_dir / "figure.png", torch.from_numpy(raw), shown, arrays,
                              f"{au}+{eu}: {Path(image_path).name}")
    return paths


def _figure(path: Path, image: torch.Tensor, samples: Any, maps: dict[str, np.ndarray], title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = samples[:4].argmax(1).numpy() if samples is not None else np.zeros((0,))
    panels = [("image", image.mean(0).numpy(), "gray")] + [(f"sample {i + 1}", s, "viridis")
                                                             for i, s in enumerate(shown)]
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
