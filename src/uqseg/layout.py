"""The run directory's layout, written once (docs/conventions.md "Run directory").

::

    RUN_DIR/
      config.yaml, environment.json, steps.jsonl, .lock
      .uqseg/done/<step>.json, .uqseg/datasets/<dataset>.json      step markers and dataset records
      data/<dataset>/                                              generated datasets (default cache)
      training/<run key>/                                          one trained run (training.plan)
      predictions/<dataset>/seed<s>/<au>+<eu>/<split>.h5           stored predictions (uqseg.store)
      metrics/<dataset>/seed<s>/<au>+<eu>.parquet                  per-combination metrics
      metrics/<dataset>/seed<s>/<au>+<eu>.bootstrap.parquet        their bootstrap replicates
      metrics/<dataset>/seed<s>/<au>+<eu>.<analysis>.parquet       an analysis's rows (and .bootstrap.parquet)
      results.parquet, results.csv, bootstrap.parquet              the tidy results (uqseg.results)
      report/index.html                                            the report

``RunLayout(root)`` gives each path under ``root``; ``RunLayout.relative()`` gives the same paths relative to the
run directory, which the step graph records as POSIX strings (``.as_posix()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath

STATE_DIR = ".uqseg"
LOCK_FILE = ".lock"
STEP_LOG = "steps.jsonl"
CONFIG_FILE = "config.yaml"
ENVIRONMENT_FILE = "environment.json"
RESULTS_PARQUET = "results.parquet"
RESULTS_CSV = "results.csv"
BOOTSTRAP_PARQUET = "bootstrap.parquet"
DATA_DIR = "data"
TRAINING_DIR = "training"
PREDICTIONS_DIR = "predictions"
PREDICT_DIR = "predict"
METRICS_DIR = "metrics"
REPORT_DIR = "report"
REPORT_INDEX = "index.html"
SEED_PREFIX = "seed"


def seed_dir(seed: int) -> str:
    """The folder name of study seed ``seed``: ``seed<s>``."""
    return f"{SEED_PREFIX}{seed}"


def parse_seed_dir(name: str) -> int | None:
    """The seed of a ``seed<s>`` folder name; None for any other name."""
    digits = name[len(SEED_PREFIX):]
    return int(digits) if name.startswith(SEED_PREFIX) and digits.isdigit() else None


def combo_dir(au: str, eu: str) -> str:
    """The folder (or file stem) name of a combination: ``<au>+<eu>``."""
    return f"{au}+{eu}"


def parse_combo_dir(name: str) -> tuple[str, str] | None:
    """``(au, eu)`` of an ``<au>+<eu>`` name; None when the name has no ``+``."""
    au, sep, eu = name.partition("+")
    return (au, eu) if sep else None


def replicates_path(metrics_path: str | PurePath) -> Path:
    """Where a metrics file's bootstrap replicates live: ``<name>.bootstrap.parquet`` beside ``<name>.parquet``."""
    path = Path(metrics_path)
    return path.with_name(f"{path.stem}.bootstrap.parquet")


@dataclass(frozen=True)
class RunLayout:
    """Every path of one run directory (see the module docstring)."""

    root: Path

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    @classmethod
    def relative(cls) -> RunLayout:
        """The layout relative to the run directory (``.as_posix()`` of its paths gives e.g. ``metrics/…``)."""
        return cls(Path())

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def environment(self) -> Path:
        return self.root / ENVIRONMENT_FILE

    @property
    def step_log(self) -> Path:
        return self.root / STEP_LOG

    @property
    def lock(self) -> Path:
        return self.root / LOCK_FILE

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def done(self) -> Path:
        """The folder of the steps' completeness markers."""
        return self.state / "done"

    @property
    def dataset_records(self) -> Path:
        """The folder of the data steps' dataset records."""
        return self.state / "datasets"

    @property
    def results(self) -> Path:
        return self.root / RESULTS_PARQUET

    @property
    def results_csv(self) -> Path:
        return self.root / RESULTS_CSV

    @property
    def bootstrap(self) -> Path:
        return self.root / BOOTSTRAP_PARQUET

    @property
    def report(self) -> Path:
        return self.root / REPORT_DIR

    @property
    def report_index(self) -> Path:
        return self.report / REPORT_INDEX

    @property
    def training_root(self) -> Path:
        return self.root / TRAINING_DIR

    def data(self, dataset: str) -> Path:
        """The default cache folder of a generated dataset."""
        return self.root / DATA_DIR / dataset

    def training(self, run_key: str) -> Path:
        """The folder of one training run, by its key (training.plan)."""
        return self.training_root / run_key

    def predictions_root(self, dataset: str) -> Path:
        """The folder holding one dataset's ``seed<s>/<au>+<eu>`` prediction folders."""
        return self.root / PREDICTIONS_DIR / dataset

    def predictions(self, dataset: str, seed: int, au: str, eu: str) -> Path:
        """The prediction folder of one combination (one ``<split>.h5`` per evaluated split)."""
        return self.predictions_root(dataset) / seed_dir(seed) / combo_dir(au, eu)

    def prediction_file(self, dataset: str, seed: int, au: str, eu: str, split: str) -> Path:
        """The predictions file of one combination and split."""
        return self.predictions(dataset, seed, au, eu) / f"{split}.h5"

    @property
    def metrics_root(self) -> Path:
        """The folder of every combination's metrics files."""
        return self.root / METRICS_DIR

    def metrics(self, dataset: str, seed: int, au: str, eu: str) -> Path:
        """The metrics file of one combination."""
        return self.metrics_root / dataset / seed_dir(seed) / f"{combo_dir(au, eu)}.parquet"

    def user_prediction(self, image_key: str, combo: str) -> Path:
        """Where ``uqseg predict`` writes one image's maps under one combination: ``predict/<image_key>/<combo>``."""
        return self.root / PREDICT_DIR / image_key / combo

    def analysis_metrics(self, dataset: str, seed: int, au: str, eu: str, analysis: str) -> Path:
        """The rows of one open-question analysis of one combination (docs/method.md "Open questions"), beside its
        metrics file."""
        return self.metrics_root / dataset / seed_dir(seed) / f"{combo_dir(au, eu)}.{analysis}.parquet"
