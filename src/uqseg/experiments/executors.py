"""Executors of the step graph: ``local`` runs steps in-process in dependency order; ``ray`` submits each
step as a Ray task with its resource needs, as soon as its dependencies have finished.

Both skip complete steps without running them and report every start and finish to a listener (the step log and
the progress display). A failing step stops the run: the local executor re-raises its error; the Ray executor
cancels the steps still running (their outputs are atomic, so nothing half-written remains) and re-raises it.

Ctrl-C (SIGINT) is not a failure: the local executor reports each running step as ``interrupted``, kills its worker
processes (which ignore SIGINT, so they print nothing) and raises KeyboardInterrupt; ``uqseg`` then exits 130
(docs/reliability.md). A library that turns the KeyboardInterrupt into another exception (Lightning exits 1) is
still reported as interrupted, because the executor watches for SIGINT itself.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from uqseg.errors import ConfigError, UqsegError
from uqseg.experiments.dag import StepGraph
from uqseg.experiments.steps import Outcome, Step, clear_marker, is_complete, now, worker_id, write_marker


class Listener(Protocol):
    """Told when a step starts and when it finishes (done, skipped or failed)."""

    def started(self, step: Step) -> None: ...

    def finished(self, step: Step, outcome: Outcome) -> None: ...


def skipped(step: Step) -> Outcome:
    """The outcome of a step found complete."""
    stamp = now()
    return Outcome(step.name, step.key, step.kind, "skipped", stamp, stamp, 0.0)


def failed(step: Step, start: str, wall_s: float, err: BaseException) -> Outcome:
    """The outcome of a step that raised ``err``."""
    return Outcome(step.name, step.key, step.kind, "failed", start, now(), wall_s, f"{type(err).__name__}: {err}")


def interrupted(step: Step, start: str, wall_s: float) -> Outcome:
    """The outcome of a step stopped by Ctrl-C: not a failure, and not done."""
    return Outcome(step.name, step.key, step.kind, "interrupted", start, now(), wall_s, "interrupted by SIGINT")


class SigintWatch:
    """Within ``with``, remembers whether SIGINT arrived (then calls the previous handler, which normally raises
    KeyboardInterrupt); a no-op outside the main thread, where handlers cannot be set."""

    def __init__(self) -> None:
        self.seen = False
        self._previous: Any = None

    def __enter__(self) -> SigintWatch:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.seen = True
        if callable(self._previous):
            self._previous(signum, frame)
        elif self._previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes are spawned inside the block: they inherit SIG_IGN from the start."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def execute_step(step: Step, run_dir: Path | str, torch_threads: int | None = None) -> Outcome:
    """Run ``step`` unless complete: clear its marker, call its function, then write its marker."""
    run_dir = Path(run_dir)
    if is_complete(run_dir, step):
        return skipped(step)
    if torch_threads is not None:
        import torch

        torch.set_num_threads(torch_threads)
    start, t0 = now(), time.perf_counter()
    clear_marker(run_dir, step)
    step.fn(step, run_dir)
    wall = time.perf_counter() - t0
    write_marker(run_dir, step, wall_s=wall)
    return Outcome(step.name, step.key, step.kind, "done", start, now(), wall, worker=worker_id())


class LocalExecutor:
    """Runs the steps on this machine: one after another in this process, or, with ``workers`` > 1, up to
    ``workers`` independent steps at a time in spawned worker processes (each step still single-process)."""

    name = "local"

    def __init__(self, torch_threads: int | None = None, workers: int = 1):
        self.torch_threads, self.workers = torch_threads, workers

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def run(self, graph: StepGraph, run_dir: Path, listener: Listener) -> None:
        """Run every step of ``graph`` in dependency order."""
        if self.workers > 1:
            self._run_parallel(graph, Path(run_dir).resolve(), listener)
            return
        with SigintWatch() as watch:
            for step in graph.order():
                if is_complete(run_dir, step):
                    listener.finished(step, skipped(step))
                    continue
                listener.started(step)
                start, t0 = now(), time.perf_counter()
                try:
                    outcome = execute_step(step, run_dir, self.torch_threads)
                except BaseException as err:
                    if watch.seen or isinstance(err, KeyboardInterrupt):
                        listener.finished(step, interrupted(step, start, time.perf_counter() - t0))
                        raise KeyboardInterrupt from None
                    listener.finished(step, failed(step, start, time.perf_counter() - t0, err))
                    raise
                listener.finished(step, outcome)

    def _run_parallel(self, graph: StepGraph, run_dir: Path, listener: Listener) -> None:
        """Submit each step to the process pool as soon as its dependencies are done; stop at the first failure."""
        done: set[str] = set()
        running: dict[Future[Outcome], tuple[Step, str, float]] = {}
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=context, initializer=die_with_parent) as pool:
            try:
                self._drive(pool, graph, run_dir, listener, done, running)
            except KeyboardInterrupt:
                for step, start, t0 in running.values():
                    listener.finished(step, interrupted(step, start, time.perf_counter() - t0))
                kill_workers(pool)
                raise

    def _drive(self, pool: ProcessPoolExecutor, graph: StepGraph, run_dir: Path, listener: Listener, done: set[str],
               running: dict[Future[Outcome], tuple[Step, str, float]]) -> None:
        """The scheduling loop of ``_run_parallel``; ``running`` holds the steps in flight for the caller."""
        while len(done) < len(graph):
            skipped_any = False
            for step in graph.ready(done, {s.name for s, _, _ in running.values()}):
                if is_complete(run_dir, step):
                    listener.finished(step, skipped(step))
                    done.add(step.name)
                    skipped_any = True
                    continue
                listener.started(step)
                with sigint_ignored():
                    future = pool.submit(execute_step, step, run_dir, self.torch_threads)
                running[future] = (step, now(), time.perf_counter())
            if not running:
                if skipped_any:
                    continue
                if len(done) < len(graph):
                    raise UqsegError(f"no step can run; waiting: {sorted({s.name for s in graph} - done)[:5]}")
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                step, start, t0 = running.pop(future)
                err = future.exception()
                if err is not None:
                    listener.finished(step, failed(step, start, time.perf_counter() - t0, err))
                    for other in running:
                        other.cancel()
                    raise err
                listener.finished(step, future.result())
                done.add(step.name)


def kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL the pool's worker processes and drop its queued work, without waiting for running steps (their
    outputs are atomic, so nothing half-written remains under a final name). The shutdown then only joins the
    pool's manager thread, so that it does not write to its closed wake-up pipe at interpreter exit."""
    for process in list(getattr(pool, "_processes", {}).values()):
        process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def die_with_parent() -> None:
    """Worker initialiser: ignore SIGINT (Ctrl-C reaches the whole process group; the parent stops the workers)
    and, on Linux, have the kernel kill this worker when the benchmark process dies (SIGKILL included), so a
    killed run leaves no step running behind the next one's back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def import_ray() -> Any:
    """Import Ray, or explain how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray: pip install 'uqseg[ray]'") from None
    return ray


def _remote_execute(step: Step, run_dir: str, torch_threads: int | None) -> Outcome:
    return execute_step(step, run_dir, torch_threads)


class RayExecutor:
    """Submits each step as a Ray task (``num_cpus``/``num_gpus`` from the step) once its dependencies are done.

    Connects to ``address`` (e.g. ``auto`` or ``ray://head:10001``) or, without one, starts a local Ray instance
    with ``num_cpus`` CPUs. The run directory must be on a file system every Ray node shares.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, torch_threads: int | None = None):
        self.address, self.num_cpus, self.torch_threads = address, num_cpus, torch_threads
        self._started = False

    def __enter__(self) -> RayExecutor:
        """Connect to Ray (or start a local instance) for the steps run inside the ``with`` block."""
        ray = import_ray()
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "logging_level": "ERROR", "log_to_driver": False}
            if self.address:
                ray.init(address=self.address, **options)
            else:
                ray.init(num_cpus=self.num_cpus, **options)
            self._started = True
        return self

    def __exit__(self, *exc: object) -> None:
        """Shut down the Ray instance this executor started (never one it found running)."""
        if self._started:
            import_ray().shutdown()
            self._started = False

    def run(self, graph: StepGraph, run_dir: Path, listener: Listener) -> None:
        """Run every step of ``graph`` on Ray, respecting dependencies (inside ``with executor:``)."""
        ray = import_ray()
        if not ray.is_initialized():
            raise UqsegError("the Ray executor runs steps inside 'with executor:'")
        task = ray.remote(max_retries=0)(_remote_execute)
        run_dir = Path(run_dir).resolve()
        done: set[str] = set()
        running: dict[Any, tuple[Step, str, float]] = {}
        while len(done) < len(graph):
            self._submit_ready(graph, run_dir, listener, task, done, running)
            if not running:
                if len(done) < len(graph):
                    waiting = sorted({s.name for s in graph} - done)[:5]
                    raise UqsegError(f"no step can run; waiting: {waiting}")
                break
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                step, start, t0 = running.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as err:
                    cause = getattr(err, "cause", None) or err
                    listener.finished(step, failed(step, start, time.perf_counter() - t0, cause))
                    for other in running:
                        ray.cancel(other, force=True)
                    if isinstance(cause, UqsegError):
                        raise cause from None
                    raise UqsegError(f"step {step.name} failed on Ray: {type(cause).__name__}: {cause}") from err
                listener.finished(step, outcome)
                done.add(step.name)

    def _submit_ready(self, graph: StepGraph, run_dir: Path, listener: Listener, task: Any, done: set[str],
                      running: dict[Any, tuple[Step, str, float]]) -> None:
        """Submit every ready step; complete ones are skipped at once, which may make more steps ready."""
        while True:
            ready = graph.ready(done, {step.name for step, _, _ in running.values()})
            if not ready:
                return
            for step in ready:
                if is_complete(run_dir, step):
                    listener.finished(step, skipped(step))
                    done.add(step.name)
                    continue
                listener.started(step)
                ref = task.options(num_cpus=step.num_cpus, num_gpus=step.num_gpus, name=step.name).remote(
                    step, str(run_dir), self.torch_threads)
                running[ref] = (step, now(), time.perf_counter())


def make_executor(kind: str, *, ray_address: str | None = None, ray_num_cpus: int | None = None,
                  torch_threads: int | None = None, workers: int = 1) -> LocalExecutor | RayExecutor:
    """The executor called ``kind`` (``local`` or ``ray``); ``workers`` is the local executor's process count."""
    if kind == "local":
        return LocalExecutor(torch_threads, workers)
    if kind == "ray":
        import_ray()
        return RayExecutor(ray_address, ray_num_cpus, torch_threads)
    raise ConfigError(f"execution.executor: unknown executor {kind!r}; options: local, ray")
