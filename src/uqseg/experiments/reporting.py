"""The datasets a run's report shows in its qualitative panels, opened as the benchmark opens them.

The report layer reads only results and stored artefacts; the experiments layer, which knows how a run's datasets
are configured and opened, hands them in: ``build_report(run_dir, datasets=run_datasets(run_dir))``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from uqseg.data.contract import Dataset
from uqseg.errors import UqsegError
from uqseg.experiments.config import validate_config
from uqseg.experiments.stepfns import report_datasets
from uqseg.experiments.study import data_params
from uqseg.layout import RunLayout


def run_datasets(run_dir: Path | str) -> dict[str, Dataset | str]:
    """The datasets of the run's config.yaml opened as its data steps open them (``stepfns.report_datasets``); each
    names the reason instead when the config is not usable; none when config.yaml is missing or unreadable."""
    path = RunLayout(run_dir).config
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    cfg = cfg if isinstance(cfg, dict) else {}
    try:
        bench = validate_config(cfg, source=str(path))
    except UqsegError as err:
        return {name: f"config not usable: {err}" for name in cfg.get("datasets") or {}}
    return report_datasets(Path(run_dir), {name: data_params(bench, name) for name in bench.datasets})
