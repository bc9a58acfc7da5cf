"""Steps of the benchmark DAG: keyed by their inputs, skipped when complete, logged.

A step's ``key`` is a sha256 of its kind, its config slice (``inputs``) and its upstream steps' keys, so a change
anywhere upstream changes every key below it. A finished step writes a completeness marker
``RUN_DIR/.uqseg/done/<step>.json`` holding its key; the step is complete when that marker holds the current key
and every declared output exists. The marker is removed before a step starts, so an output being rewritten is
never taken for complete. Every start, finish, skip and failure is appended to ``RUN_DIR/steps.jsonl``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uqseg.atomic import write_text_atomic
from uqseg.experiments.paths import slug
from uqseg.layout import RunLayout
from uqseg.training.plan import canonical

StepFunction = Callable[["Step", Path], None]
KEY_LENGTH = 16


@dataclass(frozen=True)
class Step:
    """One unit of work: ``fn(step, run_dir)`` writes ``outputs`` (paths relative to the run directory)."""

    name: str
    kind: str
    fn: StepFunction
    inputs: Any
    deps: tuple[str, ...] = ()
    dep_keys: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    num_cpus: float = 1.0
    num_gpus: float = 0.0
    cost: float = 1.0
    key: str = field(init=False)

    def __post_init__(self) -> None:
        identity = {"kind": self.kind, "inputs": canonical(self.inputs), "upstream": sorted(self.dep_keys)}
        blob = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        object.__setattr__(self, "key", hashlib.sha256(blob.encode()).hexdigest()[:KEY_LENGTH])


def make_step(
    name: str, kind: str, fn: StepFunction, inputs: Any, deps: Sequence[Step] = (), **options: Any
) -> Step:
    """A Step whose upstream names and keys are taken from ``deps``; ``options`` as the Step fields."""
    unique = {dep.name: dep for dep in deps}
    return Step(name, kind, fn, inputs, deps=tuple(unique), dep_keys=tuple(d.key for d in unique.values()), **options)


def marker_path(run_dir: Path, step: Step) -> Path:
    """Where the completeness marker of ``step`` lives."""
    return RunLayout(run_dir).done / f"{slug(step.name)}.json"


def is_complete(run_dir: Path, step: Step) -> bool:
    """Whether ``step`` finished with its current key and its outputs are all present."""
    path = marker_path(run_dir, step)
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if not isinstance(record, dict) or record.get("key") != step.key:
        return False
    return all((Path(run_dir) / out).exists() for out in step.outputs)


def clear_marker(run_dir: Path, step: Step) -> None:
    """Forget that ``step`` finished (called before it runs)."""
    marker_path(run_dir, step).unlink(missing_ok=True)


def write_marker(run_dir: Path, step: Step, *, wall_s: float) -> Path:
    """Record atomically that ``step`` finished with its current key."""
    record = {"name": step.name, "kind": step.kind, "key": step.key, "wall_s": wall_s, "end": now()}
    return write_text_atomic(marker_path(run_dir, step), json.dumps(record, sort_keys=True))


def worker_id() -> str:
    """``host:pid`` of this process (a Ray worker runs steps in another process than the benchmark's)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def now() -> str:
    """The current UTC time, ISO 8601."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Outcome:
    """What happened to one step: ``done``, ``skipped`` or ``failed``, with its timing and the ``host:pid`` that
    ran it."""

    name: str
    key: str
    kind: str
    status: str
    start: str
    end: str
    wall_s: float
    error: str = ""
    worker: str = ""


class StepLog:
    """Append-only JSON-lines log of step events; one line per event, written with a single ``write``."""

    def __init__(self, run_dir: Path):
        self.path = RunLayout(run_dir).step_log
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._host = socket.gethostname()
        if self.path.exists() and self.path.stat().st_size:
            with open(self.path, "rb") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":  # a line cut short by a kill: end it so the next one parses
                    self._write("\n")

    def _write(self, text: str) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def event(self, step: Step, status: str, **fields: Any) -> None:
        """Append one event for ``step`` (status: start, done, skipped, failed)."""
        record = {"time": now(), "name": step.name, "kind": step.kind, "key": step.key, "status": status,
                  "pid": os.getpid(), "host": self._host, **fields}
        self._write(json.dumps(record, sort_keys=True) + "\n")

    def outcome(self, step: Step, outcome: Outcome) -> None:
        """Append the finish (or skip, or failure) of ``step``."""
        fields = {"start": outcome.start, "end": outcome.end, "wall_s": outcome.wall_s}
        if outcome.error:
            fields["error"] = outcome.error
        if outcome.worker:
            fields["worker"] = outcome.worker
        self.event(step, outcome.status, **fields)


def read_step_log(run_dir: Path) -> list[dict[str, Any]]:
    """The events of ``RUN_DIR/steps.jsonl`` in order; a line cut short by a kill is skipped."""
    path = RunLayout(run_dir).step_log
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            events.append(record)
    return events
