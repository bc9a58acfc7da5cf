"""``uqseg benchmark``: plan the study, run its steps, record everything, resumably.

The run directory is locked for the whole run; leftovers of interrupted atomic writes are removed on start; the
resolved config goes to ``config.yaml`` and the environment to ``environment.json``. Steps already complete are
skipped, so a killed run started again finishes the study without redoing a finished step.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from uqseg.atomic import remove_stale_temporaries, write_text_atomic
from uqseg.experiments.config import GEOMETRY_FIELDS, BenchmarkConfig
from uqseg.experiments.dag import StepGraph
from uqseg.experiments.environment import environment_record, write_environment
from uqseg.experiments.executors import make_executor
from uqseg.experiments.lock import RunLock
from uqseg.experiments.preflight import check_study
from uqseg.experiments.progress import ProgressDisplay
from uqseg.experiments.steps import Outcome, Step, StepLog, now, read_step_log
from uqseg.experiments.study import data_steps, read_data_record, study_graph
from uqseg.layout import RunLayout


@dataclass
class BenchmarkRun:
    """What one invocation did: where the results and report are, and its wall times by stage."""

    run_dir: Path
    results: Path
    report: Path | None
    wall_s: float
    stage_wall_s: dict[str, float] = field(default_factory=dict)
    done: int = 0
    skipped: int = 0


class _Recorder:
    """Listener that logs every event to steps.jsonl, sums wall time per stage and drives the display."""

    def __init__(self, log: StepLog, display: ProgressDisplay):
        self.log, self.display = log, display
        self.stage_wall_s: dict[str, float] = defaultdict(float)
        self.done = self.skipped = 0

    def started(self, step: Step) -> None:
        self.log.event(step, "start")
        self.display.started(step)

    def finished(self, step: Step, outcome: Outcome) -> None:
        self.log.outcome(step, outcome)
        if outcome.status == "done":
            self.stage_wall_s[step.kind] += outcome.wall_s
            self.done += 1
        elif outcome.status == "skipped":
            self.skipped += 1
        self.display.finished(step, outcome)


def total_stage_wall(run_dir: Path) -> dict[str, float]:
    """Wall time per stage summed over every finished step in the step log (all invocations)."""
    totals: dict[str, float] = defaultdict(float)
    for event in read_step_log(run_dir):
        if event.get("status") == "done":
            totals[str(event.get("kind"))] += float(event.get("wall_s", 0.0))
    return dict(totals)


def write_config(cfg: BenchmarkConfig, run_dir: Path, geometry: Mapping[str, Mapping[str, int]] | None = None) -> Path:
    """Write the resolved config to ``RUN_DIR/config.yaml`` atomically. The model's geometry comes from each
    dataset, so the global ``model`` section leaves it out unless the config set it, and ``geometry`` (per dataset,
    once the data steps recorded it) goes into ``datasets.<name>.model``: the file says what ran."""
    raw = cfg.model_dump(mode="json")
    for key in GEOMETRY_FIELDS:
        if key not in cfg.model.model_fields_set:
            raw["model"].pop(key)
    for name, values in (geometry or {}).items():
        raw["datasets"][name]["model"].update(values)
    text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    return write_text_atomic(RunLayout(run_dir).config, text)


def run_benchmark(cfg: BenchmarkConfig, run_dir: Path | str, *, progress: bool = True,
                  kinds: Collection[str] | None = None) -> BenchmarkRun:
    """Run the study ``cfg`` in ``run_dir`` (created if needed) and return where its results are.

    ``kinds`` keeps only the steps of those kinds after the data steps (``uqseg train`` runs the training steps,
    ``uqseg evaluate`` up to the metrics). Everything is checked (``preflight.check_study``) before the run
    directory is created. Raises LockedError at once when another process holds the run directory.
    """
    check_study(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ex = cfg.execution
    executor = make_executor(ex.executor, ray_address=ex.ray_address, ray_num_cpus=ex.ray_num_cpus,
                             torch_threads=ex.torch_threads, workers=ex.workers)
    with RunLock(run_dir):
        remove_stale_temporaries(run_dir)
        write_config(cfg, run_dir)
        start, t0 = now(), time.perf_counter()
        write_environment(run_dir, environment_record(start=start, end=None, executor=executor.name,
                                                      stage_wall_s={}, total_stage_wall_s=total_stage_wall(run_dir),
                                                      wall_s=None))
        display = ProgressDisplay(enabled=progress)
        recorder = _Recorder(StepLog(run_dir), display)
        with display, executor:
            data = data_steps(cfg)
            display.add(data)
            executor.run(StepGraph(data), run_dir, recorder)
            write_config(cfg, run_dir, {name: read_data_record(run_dir, name).geometry for name in cfg.datasets})
            graph = study_graph(cfg, run_dir, data)
            if kinds is not None:
                graph = StepGraph([s for s in graph.order() if s.kind in kinds], satisfied=graph.satisfied)
            display.add(graph.order())
            executor.run(graph, run_dir, recorder)
        wall = time.perf_counter() - t0
        stages = dict(recorder.stage_wall_s)
        write_environment(run_dir, environment_record(start=start, end=now(), executor=executor.name,
                                                      stage_wall_s=stages, total_stage_wall_s=total_stage_wall(run_dir),
                                                      wall_s=wall))
    layout = RunLayout(run_dir)
    return BenchmarkRun(run_dir, layout.results, layout.report_index if cfg.report else None, wall, stages,
                        recorder.done, recorder.skipped)
