"""Progress of a benchmark: overall steps, the current step and an ETA.

The ETA weighs steps by their estimated ``cost`` (a training step costs far more than a metrics step): it is the
elapsed time scaled by the cost still to run over the cost run so far. Skipped steps count as done but not towards
the rate. On a terminal a rich progress bar is shown; otherwise one line per finished step is printed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from uqseg.experiments.steps import Outcome, Step


def format_seconds(seconds: float | None) -> str:
    """``h:mm:ss``, or ``-:--:--`` when unknown."""
    if seconds is None:
        return "-:--:--"
    whole = max(0, round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class EtaEstimate:
    """Cost-weighted estimate of the time left."""

    def __init__(self) -> None:
        self.total = 0.0
        self.finished = 0.0
        self.run_cost = 0.0
        self.run_time = 0.0

    def add(self, cost: float) -> None:
        self.total += cost

    def finish(self, cost: float, wall_s: float | None) -> None:
        """Count a finished step; ``wall_s`` is None for a skipped one."""
        self.finished += cost
        if wall_s is not None:
            self.run_cost += cost
            self.run_time += wall_s

    def remaining(self) -> float | None:
        if self.run_cost <= 0:
            return None
        return max(0.0, self.total - self.finished) * self.run_time / self.run_cost


class ProgressDisplay:
    """A listener showing the benchmark's progress; use as a context manager around the run."""

    def __init__(self, console: Console | None = None, enabled: bool = True):
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.live = enabled and self.console.is_terminal
        self.eta = EtaEstimate()
        self.steps = 0
        self.completed = 0
        self.current: dict[str, float] = {}
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressDisplay:
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]uqseg benchmark"), BarColumn(), MofNCompleteColumn(), TextColumn("steps"),
                TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}"), TextColumn("{task.fields[current]}"),
                console=self.console, transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("steps", total=0, eta=format_seconds(None), current="")
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def add(self, steps: Iterable[Step]) -> None:
        """Add planned steps to the total."""
        for step in steps:
            self.steps += 1
            self.eta.add(step.cost)
        self._refresh()

    def started(self, step: Step) -> None:
        self.current[step.name] = time.perf_counter()
        self._refresh()

    def finished(self, step: Step, outcome: Outcome) -> None:
        self.current.pop(step.name, None)
        if outcome.status not in ("failed", "interrupted"):
            self.completed += 1
            self.eta.finish(step.cost, outcome.wall_s if outcome.status == "done" else None)
        if self.enabled and not self.live and outcome.status != "skipped":
            self.console.print(f"[{self.completed}/{self.steps}] {outcome.status} {step.name} "
                               f"({outcome.wall_s:.1f}s) ETA {format_seconds(self.eta.remaining())}",
                               highlight=False, soft_wrap=True)
        self._refresh()

    def _refresh(self) -> None:
        if self._progress is None or self._task is None:
            return
        names = list(self.current)
        current = names[0] + (f" (+{len(names) - 1})" if len(names) > 1 else "") if names else ""
        self._progress.update(self._task, total=self.steps, completed=self.completed,
                              eta=format_seconds(self.eta.remaining()), current=current)
