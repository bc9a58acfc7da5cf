"""Streamed inference of one AU+EU combination over one split (docs/method.md §1, §6; streamed inference).

For each batch of images, the EU instances are evaluated in groups of ``instance_group`` (batched path), each
drawing S AU samples; every group feeds the streaming accumulator at once and is dropped, so at most one group of
one batch's samples is alive. No-EU feeds every AU sample as its own instance (``update_no_eu``). Samples and maps
are checked for NaN/inf before anything is written. Per-image GED (within each instance, against the split's
annotations) and the background fraction of every instance's argmax are summed as the groups pass, so memory does
not grow with S·M (docs/method.md §3).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np
import torch
from torch import Tensor

from uqseg.atomic import atomic_path
from uqseg.data.contract import Split
from uqseg.epistemic import build_method
from uqseg.epistemic.base import EpistemicMethod
from uqseg.errors import ConfigError, NumericalError
from uqseg.inference.config import InferenceConfig
from uqseg.metrics.segmentation import DISTANCES, instance_ged
from uqseg.nn import build_model
from uqseg.store import create_datasets, write_batch
from uqseg.training.plan import training_au
from uqseg.uncertainty import UncertaintyAccumulator, discretize

if TYPE_CHECKING:
    from uqseg.nn.base import AleatoricModel
    from uqseg.training.checkpoint import ModelFactory
    from uqseg.training.plan import TrainingRun


def group_seed(seed: int, batch: int, group: int) -> int:
    """The torch seed of instance group ``group`` of image batch ``batch``: sha256 of (seed, batch, group)."""
    digest = hashlib.sha256(f"uqseg-inference:{seed}:{batch}:{group}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def network_context(cfg: InferenceConfig, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast for the network on CUDA when asked (GPU path); nothing otherwise."""
    if cfg.network_precision == "bf16" and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _check_finite(value: Tensor | np.ndarray, what: str, where: str, start: int, image_axis: int = 0) -> None:
    """Raise NumericalError naming ``where`` (combination and split) and the first image with a NaN/inf."""
    tensor = torch.as_tensor(value)
    bad = ~torch.isfinite(tensor)
    if bool(bad.any()):
        per_image = bad.movedim(image_axis, 0).reshape(tensor.shape[image_axis], -1).any(1)
        index = start + int(per_image.nonzero()[0, 0])
        raise NumericalError(f"{where}: non-finite {what} at image index {index}")


def class_argmax(probs: Tensor, dim: int) -> Tensor:
    """``probs.argmax(dim)`` with the class axis moved last first: the same indices (first maximum on ties), about
    10× faster on CPU than reducing over a strided middle axis (docs/performance.md)."""
    return probs.movedim(dim, -1).contiguous().argmax(-1)


def _add_instance_scores(samples: Tensor, no_eu: bool, annotations: np.ndarray, num_classes: int,
                         ged_sums: dict[str, np.ndarray], bg_sum: np.ndarray) -> None:
    """Add one group's per-image GED sums and instance-argmax background fractions (docs/method.md §3).

    samples is G×S×B×C×H×W. GED pools the S samples of each instance; No-EU (G = 1) pools all S of its samples
    into one GED, while for the background fraction each of its samples counts as an instance of its own.
    """
    labels = class_argmax(samples, 3).to(torch.uint8)  # G×S×B×H×W
    instances = samples[0] if no_eu else samples.mean(1)  # instance means, G'×B×C×H×W
    bg_sum += (class_argmax(instances, 2) == 0).double().mean((-2, -1)).sum(0).cpu().numpy()
    for d, v in instance_ged(annotations, labels.cpu().numpy(), num_classes).items():
        ged_sums[d] += v.sum(0)


def predict_split(
    au: str, eu: str, method: EpistemicMethod, split: Split, out_path: Path, cfg: InferenceConfig
) -> Path:
    """Predict TU/AU/EU maps, the mean and its argmax for every image of ``split`` into ``out_path`` (HDF5).

    Also stores per image ``ged_dice`` and ``ged_iou`` (GED within each EU instance over its S AU samples against
    the split's annotators, averaged over instances; No-EU: one GED over all S samples) and ``bg_fraction`` (the
    background fraction averaged over the mean's argmax and, with several instances, each instance's argmax).
    With ``cfg.discretize`` every AU sample becomes the one-hot map of its argmax first (paper appendix A.3).
    Deterministic given ``cfg``. Raises NumericalError naming ``au+eu``, the split and the image index when a sample
    or map is NaN/inf; nothing is left under ``out_path`` then.
    """
    where = f"{au}+{eu} split {split.name!r}"
    n_images = len(split)
    if n_images == 0:
        raise ConfigError(f"{where}: the split is empty")
    device = torch.device(cfg.device)
    method.to(device)
    s = cfg.samples_for(au)
    m_total = method.num_instances
    no_eu = eu == "none"
    if no_eu and m_total != 1:
        raise ConfigError(f"{where}: No-EU takes one instance, the method has {m_total}")
    c = method.num_classes
    h, w = (int(v) for v in split.images.shape[-2:])
    k = min(cfg.stored_sample_images, n_images)
    groups = [list(range(g, min(g + cfg.instance_group, m_total))) for g in range(0, m_total, cfg.instance_group)]
    with atomic_path(out_path) as tmp, h5py.File(tmp, "w") as f:
        create_datasets(f, n_images, c, h, w, k, s)
        n_groups = s if no_eu else m_total
        start = 0
        for b, batch in enumerate(split.batches(cfg.batch_size)):
            images = torch.from_numpy(batch["image"]).to(device)
            if cfg.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            annotations = np.asarray(batch["annotations"], dtype=np.int64)
            acc = UncertaintyAccumulator()
            ged_sums = {d: np.zeros(images.shape[0]) for d in DISTANCES}
            bg_sum = np.zeros(images.shape[0])
            for g, ms in enumerate(groups):
                with torch.no_grad(), network_context(cfg, device):
                    samples = method.sample_instances(images, s, ms, group_seed(cfg.seed, b, g)).float()
                _check_finite(samples, "AU samples", where, start, image_axis=2)
                if cfg.discretize:
                    samples = discretize(samples)
                for i in range(len(ms)):
                    (acc.update_no_eu if no_eu else acc.update)(samples[i])
                _add_instance_scores(samples, no_eu, annotations, c, ged_sums, bg_sum)
                if g == 0 and start < k:
                    stop = min(k, start + images.shape[0])
                    f["samples"][start:stop] = samples[0, :, : stop - start].transpose(0, 1).cpu().numpy()
                del samples
            maps = acc.result()
            arrays = {name: np.asarray(getattr(maps, name).cpu(), dtype=np.float32) for name in ("tu", "au", "eu")}
            mean = np.asarray(maps.mean.cpu(), dtype=np.float32)
            for name, value in [*arrays.items(), ("mean", mean)]:
                _check_finite(value, f"{name} map", where, start)
            arrays["mean"] = mean.astype(np.float16)
            arrays["pred"] = mean.argmax(1).astype(np.uint8)
            bg_pred = (arrays["pred"] == 0).mean((1, 2))
            arrays["bg_fraction"] = bg_pred if n_groups == 1 else (bg_pred + bg_sum) / (1 + n_groups)
            arrays.update({f"ged_{d}": v / (1 if no_eu else m_total) for d, v in ged_sums.items()})
            write_batch(f, start, arrays)
            start += images.shape[0]
            del maps, arrays, mean, acc  # drop this batch before the next one is sampled
        f.attrs.update({"au": au, "eu": eu, "split": split.name, "S": s, "M": m_total, "num_images": n_images,
                        "predictions": s * m_total, "seed": cfg.seed, "no_eu_convention": no_eu,
                        "config": cfg.model_dump_json()})
        f.attrs["complete"] = True
    return Path(out_path)


def load_method(
    au: str,
    eu: str,
    run_dirs: Sequence[Path],
    runs: Sequence[TrainingRun],
    cfg: InferenceConfig,
    *,
    model_factory: ModelFactory | None = None,
) -> EpistemicMethod:
    """Load the trained (EMA) weights of ``runs`` from ``run_dirs`` and build EU method ``eu`` (docs/method.md §6, §7).

    ``runs`` are those ``runs_for_combination(au, eu, ...)`` returns, member 1 first; SWAG methods also load the
    shared run's SWAG state. ``model_factory`` replaces ``uqseg.nn.build_model`` (tests). Runs of another AU model
    (TTA's softmax runs, docs/method.md §5 "TTA") load into model ``au`` built on each run's model config.
    """
    from uqseg.training.checkpoint import load_swag_state, load_trained_model  # local: loads Lightning

    if len(run_dirs) != len(runs) or not runs:
        raise ConfigError(f"{au}+{eu}: got {len(runs)} runs and {len(run_dirs)} run directories")
    if any(run.au != training_au(au, run.model) for run in runs):
        raise ConfigError(f"{au}+{eu}: runs of AU models {sorted({r.au for r in runs})} given")
    factory = model_factory
    if factory is None and any(run.au != au for run in runs):

        def factory(run: TrainingRun) -> AleatoricModel:
            return build_model(au, run.model)

    if eu == "subensemble":  # the stored file holds the base weights and the K sub-models' masks
        from uqseg.training.checkpoint import default_model_factory
        from uqseg.training.subensemble_fit import load_subensemble_method

        return load_subensemble_method((factory or default_model_factory)(runs[-1]), run_dirs[-1],
                                       batched=cfg.batched)
    models = [
        load_trained_model(run, path, weights="ema", model_factory=factory)
        for run, path in zip(runs, run_dirs, strict=True)
    ]
    state = load_swag_state(run_dirs[0]) if eu in ("swag", "swag_d") else None
    return build_method(
        eu, models, swag_state=state, instances=cfg.instances, swag_scale=cfg.swag_scale, seed=cfg.seed,
        batched=cfg.batched,
    )
