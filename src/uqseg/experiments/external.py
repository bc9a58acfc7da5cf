"""``uqseg evaluate --predictions FILE``: score per-image samples made elsewhere exactly as the study scores its own
(docs/custom_model.md "Predictions made elsewhere"; docs/method.md §1, §3).

The dataset is opened (generated or checked) by the benchmark's data step, the file is checked against it
(``inference.external.check_external``), each split's samples go through ``predict_split`` into the run's
predictions files, and the study's own metrics, results and report steps follow: same table, same report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from uqseg.errors import ConfigError
from uqseg.experiments import stepfns
from uqseg.experiments.combination import check_run_dir, combination_config
from uqseg.experiments.config import BenchmarkConfig, inference_config
from uqseg.experiments.lock import RunLock
from uqseg.experiments.presets import DEFAULT_PRESET
from uqseg.experiments.runner import run_benchmark
from uqseg.experiments.steps import make_step
from uqseg.experiments.study import data_params
from uqseg.inference.evaluate import evaluated_splits
from uqseg.inference.external import StoredSamples, check_external, open_external
from uqseg.inference.predict import predict_split
from uqseg.layout import RunLayout
from uqseg.vocabulary import check_eu, known_au_models, register_au_model

EXTERNAL_AU = "external"


def external_combo(combo: str | None, instances: int) -> tuple[str, str]:
    """``(au, eu)`` the predictions are filed under: ``combo`` (its AU name registered as a label if uqseg does not
    know it), else ``external+none`` for M = 1 and ``external+ensemble`` for M > 1. No-EU needs M = 1."""
    au, sep, eu = (combo or "").partition("+")
    if combo is None:
        au, eu = EXTERNAL_AU, "none" if instances == 1 else "ensemble"
    elif not sep:
        raise ConfigError(f"--combo {combo!r} must be written AU+EU, e.g. mymodel+ensemble")
    check_eu(eu)
    if au not in known_au_models():
        register_au_model(au)
    if eu == "none" and instances != 1:
        raise ConfigError(f"--combo {au}+none takes M = 1 instance; the file has M = {instances}")
    return au, eu


def evaluate_external(predictions: Path, dataset: str, out: Path, *, combo: str | None = None,
                      preset: str | Path = DEFAULT_PRESET, seed: int = 0, overrides: Sequence[str] = (),
                      progress: bool = False) -> RunLayout:
    """Score the samples in ``predictions`` (layout: ``uqseg.inference.external``) on ``dataset`` as combination
    ``combo`` with study seed ``seed`` in run directory ``out``: its predictions files, metrics, ``results.parquet``
    and report, as ``uqseg benchmark`` writes them. ``preset`` and ``overrides`` give the dataset's options and the
    inference settings (batch size, stored sample images, discretisation)."""
    predictions = Path(predictions)
    with open_external(predictions) as arrays:
        first = next(iter(arrays.values()), None)
        instances = int(first.shape[1]) if first is not None and first.ndim == 6 else 1
    au, eu = external_combo(combo, instances)
    cfg = combination_config(dataset, f"{au}+{eu}", preset=preset, seed=seed, overrides=overrides)
    check_run_dir(cfg, Path(out))
    run_benchmark(cfg, out, progress=progress, kinds=())  # the data step alone
    (name,) = cfg.datasets
    data = data_params(cfg, name)
    opened = stepfns.open_dataset(Path(out), data)
    with RunLock(Path(out)), open_external(predictions) as arrays:
        _, samples = check_external(arrays, predictions, opened)
        if au == "softmax" and samples != 1:
            raise ConfigError(f"predictions file {predictions}: softmax has S = 1 sample per instance, the file has "
                              f"S = {samples}")
        infer = inference_config(cfg, seed).model_copy(update={"samples": samples})
        layout = RunLayout(out)
        for split in evaluated_splits(opened):
            predict_split(au, eu, StoredSamples(arrays[split], predictions, split), opened.split(split),
                          layout.prediction_file(name, seed, au, eu, split), infer)
        _score(cfg, Path(out), name, seed, au, eu)
    return layout


def _score(cfg: BenchmarkConfig, out: Path, name: str, seed: int, au: str, eu: str) -> None:
    """The study's metrics, results and report steps on the one combination's predictions."""
    relative = RunLayout.relative()
    data = data_params(cfg, name)
    metrics = make_step("metrics", "metrics", stepfns.run_metrics, {}, params={
        "dataset": name, "seed": seed, "au": au, "eu": eu, "data": data, "batch_size": cfg.evaluation.batch_size,
        "predictions": relative.predictions(name, seed, au, eu).as_posix(),
        "out": relative.metrics(name, seed, au, eu).as_posix()})
    stepfns.run_metrics(metrics, out)
    stepfns.run_results(make_step("results", "results", stepfns.run_results, {},
                                  params={"metrics": [metrics.params["out"]]}), out)
    stepfns.run_report(make_step("report", "report", stepfns.run_report, {}, params={"data": {name: data}}), out)
