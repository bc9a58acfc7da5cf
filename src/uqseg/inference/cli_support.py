"""What ``uqseg evaluate`` and ``uqseg predict`` do behind their thin CLI commands."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from uqseg.errors import ConfigError
from uqseg.inference.config import InferenceConfig, make_inference_config

INFER_SECTION = "infer."


def split_overrides(items: Iterable[str]) -> tuple[list[str], InferenceConfig, dict[str, Any]]:
    """Separate ``infer.KEY=VALUE`` overrides (→ InferenceConfig) from the training-layer ones."""
    rest, infer = [], {}
    for item in items:
        if not item.startswith(INFER_SECTION):
            rest.append(item)
            continue
        name, sep, raw = item[len(INFER_SECTION):].partition("=")
        if not sep or not name:
            raise ConfigError(f"override {item!r} must look like infer.KEY=VALUE")
        try:
            infer[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            try:
                infer[name.strip()] = yaml.safe_load(raw) if raw.strip() else ""
            except yaml.YAMLError as err:
                raise ConfigError(f"cannot parse the value of override {item!r}: {err}") from None
    return rest, make_inference_config(**infer), infer


def run_evaluate(dataset: str, combo: str, *, epochs: int, out: Path, seed: int, overrides: list[str],
                 progress: bool) -> Path:
    """Train if needed, predict, evaluate ``combo`` on ``dataset``; return the metrics parquet path."""
    from uqseg.inference.combination import evaluate_combination, metrics_path
    from uqseg.training.config import make_train_config
    from uqseg.training.runner import make_model_config, parse_combination, parse_overrides

    au, eu = parse_combination(combo)
    rest, infer, explicit = split_overrides(overrides)
    if "seed" not in explicit:
        infer = infer.model_copy(update={"seed": seed})
    sets = parse_overrides(rest)
    evaluate_combination(
        au, eu, dataset=dataset, dataset_options=sets["data"], model=make_model_config(sets["model"]),
        train=make_train_config(**{"epochs": epochs, "seed": seed, **sets["train"]}), inference=infer, root=out,
        seed=seed, progress=progress,
    )
    return metrics_path(out, dataset, seed, au, eu)


def predict_folder(run_dir: Path, image: Path, combo: str) -> Path:
    """Default output folder RUN_DIR/predict/<image name>-<hash of its absolute path>/<combo>: distinct input files
    (``x.png`` and ``x.jpg``, or ``x.png`` in two folders) never share one."""
    digest = hashlib.sha256(str(Path(image).resolve()).encode()).hexdigest()[:8]
    return Path(run_dir) / "predict" / f"{Path(image).name}-{digest}" / combo


def run_predict(run_dir: Path, combo: str, image: Path, *, out: Path | None, dataset: str | None, seed: int | None,
                normalise: str, overrides: list[str]) -> dict[str, Path]:
    """Maps and figure of ``combo`` for one image; see ``uqseg.inference.single.predict_image``."""
    from uqseg.inference.single import predict_image
    from uqseg.training.runner import parse_combination

    au, eu = parse_combination(combo)
    rest, infer, _ = split_overrides(overrides)
    if rest:
        raise ConfigError(f"uqseg predict takes only infer.KEY=VALUE overrides, got {rest}")
    target = out or predict_folder(Path(run_dir), Path(image), f"{au}+{eu}")
    return predict_image(Path(run_dir), au, eu, Path(image), target, infer, dataset=dataset, seed=seed,
                         normalise=normalise)
