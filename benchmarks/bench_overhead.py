"""Where the time of one quick-preset training run and one prediction step goes (docs/performance.md).

Each measurement runs in a fresh process (``--child``), as a benchmark worker does: it imports what the step
needs, then calls the step function the benchmark calls (``uqseg.experiments.stepfns.run_training`` or
``run_prediction``) on the quick preset's plan, with timers wrapped around the phases. A phase's time is its own
time (time spent in a nested timed phase is counted there); "rest" is the step's wall time not in any timed phase
(Lightning's loop and hooks, data loading, HDF5 writes). Every child runs with one torch thread.

``--base SRC`` runs the same measurement against another copy of the package's ``src`` directory (e.g. an
exported older commit), interleaved with the working tree's, and prints both columns and their ratio; the table
shows the median over ``--repeats`` of each phase.

    OMP_NUM_THREADS=1 python benchmarks/bench_overhead.py --repeats 3
    OMP_NUM_THREADS=1 python benchmarks/bench_overhead.py --base /tmp/old/src --set train.channels_last=true
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"


class PhaseTimer:
    """Self-time per phase: a timed call nested in another is charged to the inner phase only."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._stack: list[list[float]] = []

    def wrap(self, owner: Any, attr: str, phase: str) -> None:
        """Replace ``owner.attr`` by a timed version; a missing attribute is skipped (older code)."""
        original = getattr(owner, attr, None)
        if original is None:
            return
        is_static = isinstance(owner, type) and isinstance(owner.__dict__.get(attr), staticmethod)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._stack.append([time.perf_counter(), 0.0])
            try:
                return original(*args, **kwargs)
            finally:
                start, nested = self._stack.pop()
                spent = time.perf_counter() - start
                self.seconds[phase] += spent - nested
                self.calls[phase] += 1
                if self._stack:
                    self._stack[-1][1] += spent

        setattr(owner, attr, staticmethod(timed) if is_static else timed)


def _quick_steps(run_dir: Path, datasets: list[str], combo: str, overrides: list[str]) -> list[Any]:
    """Plan the quick preset for one dataset and combination after running its data step."""
    from uqseg.experiments.presets import resolve_config
    from uqseg.experiments.study import data_steps, study_graph

    cfg = resolve_config("quick", datasets=datasets, combos=[combo], overrides=overrides)
    data = data_steps(cfg)
    for step in data:
        step.fn(step, run_dir)
    return study_graph(cfg, run_dir, data).order()


def _instrument_training(timer: PhaseTimer) -> None:
    import lightning.pytorch as pl
    import torch

    from uqseg.training import callbacks, checkpoint, ema, module, train

    timer.wrap(checkpoint, "default_model_factory", "model construction")
    timer.wrap(pl.Trainer, "__init__", "Trainer set-up")
    timer.wrap(train, "make_logger", "Trainer set-up")
    timer.wrap(module.TrainingModule, "training_step", "forward (loss)")
    timer.wrap(module.TrainingModule, "backward", "backward")
    timer.wrap(module.TrainingModule, "configure_gradient_clipping", "gradient clip")
    timer.wrap(torch.optim.AdamW, "step", "AdamW step")
    timer.wrap(module.TrainingModule, "optimizer_zero_grad", "AdamW step")
    timer.wrap(ema.EmaWeights, "update", "EMA update")
    timer.wrap(module.TrainingModule, "log", "logging (self.log)")
    timer.wrap(pl.Trainer, "save_checkpoint", "epoch checkpoints")
    timer.wrap(checkpoint, "verify_checkpoint", "epoch checkpoints")
    timer.wrap(callbacks.SwagCollector, "on_train_epoch_end", "SWAG collection")
    timer.wrap(callbacks.FiniteWeightsGuard, "on_train_epoch_end", "finite-weights check")
    timer.wrap(train, "_write_outputs", "final weights + run.json")


def _instrument_prediction(timer: PhaseTimer) -> None:
    from uqseg.experiments import stepfns
    from uqseg.inference import predict
    from uqseg.training import checkpoint
    from uqseg.uncertainty import UncertaintyAccumulator

    timer.wrap(stepfns, "open_dataset", "open dataset")
    timer.wrap(checkpoint, "default_model_factory", "load: build models")
    timer.wrap(checkpoint, "read_weights", "load: read weights")
    timer.wrap(checkpoint, "load_swag_state", "load: SWAG state")
    timer.wrap(predict, "load_method", "load: build EU method")
    timer.wrap(predict, "write_batch", "HDF5 writes")
    timer.wrap(predict, "create_datasets", "HDF5 writes")
    for attr in ("update", "update_no_eu", "result"):
        timer.wrap(UncertaintyAccumulator, attr, "decomposition")
    _instrument_sampling(timer)


def _instrument_sampling(timer: PhaseTimer) -> None:
    from uqseg.epistemic.base import EpistemicMethod

    for cls in [EpistemicMethod, *_subclasses(EpistemicMethod)]:
        if "sample_instances" in cls.__dict__:
            timer.wrap(cls, "sample_instances", "network (AU x EU samples)")


def _subclasses(cls: type) -> list[type]:
    import uqseg.epistemic  # noqa: F401  (registers every method)

    found, todo = [], [cls]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in this (fresh) process: import, then one training run or one prediction step."""
    t0 = time.perf_counter()
    import torch

    torch.set_num_threads(1)
    from uqseg.experiments import stepfns

    # what a benchmark worker imports for its first step of this kind
    importlib.import_module("uqseg.training.train" if args.what == "train" else "uqseg.inference.predict")
    imports = time.perf_counter() - t0
    run_dir = Path(args.run_dir)
    steps = _quick_steps(run_dir, [args.dataset], args.combo, args.set)
    timer = PhaseTimer()
    if args.what == "train":
        step = next(s for s in steps if s.kind == "train" and s.params["run"].family == "shared")
        _instrument_training(timer)
        fn = stepfns.run_training
    else:
        for s in steps:
            if s.kind == "train":
                s.fn(s, run_dir)
        step = next(s for s in steps if s.kind == "predict" and s.params["split"] == args.split)
        stepfns._OPEN.clear()
        _instrument_prediction(timer)
        fn = stepfns.run_prediction
    cpu0, start = time.process_time(), time.perf_counter()
    fn(step, run_dir)
    wall = time.perf_counter() - start
    phases = dict(timer.seconds)
    phases["rest"] = wall - sum(phases.values())
    return {"imports": imports, "wall": wall, "cpu": time.process_time() - cpu0, "phases": phases,
            "calls": dict(timer.calls), "step": step.name}


def _spawn(src: Path, args: argparse.Namespace, run_dir: Path, overrides: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "--what", args.what, "--dataset", args.dataset, "--combo",
           args.combo, "--split", args.split, "--run-dir", str(run_dir)]
    for item in overrides:
        cmd += ["--set", item]
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({src}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median_table(results: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for label, runs in results.items():
        rows: dict[str, list[float]] = defaultdict(list)
        for r in runs:
            rows["process start + imports"].append(r["imports"])
            for phase, s in r["phases"].items():
                rows[phase].append(s)
            rows["step wall (without imports)"].append(r["wall"])
            rows["step CPU (without imports)"].append(r["cpu"])
        table[label] = {phase: statistics.median(v + [0.0] * (len(runs) - len(v))) for phase, v in rows.items()}
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--what", choices=("train", "predict"), action="append")
    parser.add_argument("--dataset", default="synthetic-lidc")
    parser.add_argument("--combo", default="ssn+swag", help="AU+EU; training times its shared run")
    parser.add_argument("--split", default="test", help="the split the prediction step predicts")
    parser.add_argument("--set", action="append", default=[], help="preset override, e.g. train.channels_last=true")
    parser.add_argument("--base", type=Path, help="another src directory to compare against")
    parser.add_argument("--base-set", action="append", default=[], help="preset override for --base only")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.what = args.what[-1]
        print(json.dumps(child(args)))
        return
    sources = {"this tree": SRC, **({"base": args.base.resolve()} if args.base else {})}
    for what in args.what or ["train", "predict"]:
        sub = argparse.Namespace(**{**vars(args), "what": what})
        results: dict[str, list[dict[str, Any]]] = {label: [] for label in sources}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.repeats):
                for label, src in (sources.items() if r % 2 == 0 else reversed(sources.items())):
                    overrides = args.base_set if label == "base" else args.set
                    run_dir = Path(tmp) / f"{label}-{r}".replace(" ", "-")
                    results[label].append(_spawn(src, sub, run_dir, overrides))
        _print(what, results, sources)


def _print(what: str, results: dict[str, list[dict[str, Any]]], sources: dict[str, Path]) -> None:
    table = _median_table(results)
    labels = list(sources)
    phases = list(dict.fromkeys(p for label in labels for p in table[label]))
    last = ["step wall (without imports)", "step CPU (without imports)"]
    phases = [p for p in phases if p not in last] + last
    step = results[labels[0]][0]["step"]
    print(f"\n{what}: {step}, median of {len(results[labels[0]])} fresh processes, seconds")
    head = "| phase | " + " | ".join(labels) + (" | base / this tree |" if "base" in labels else " |")
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for phase in phases:
        cells = [f"{table[label].get(phase, 0.0):.3f}" for label in labels]
        if "base" in labels:
            ratio = table["base"].get(phase, 0.0) / max(table["this tree"].get(phase, 0.0), 1e-9)
            cells.append(f"{ratio:.2f}")
        print(f"| {phase} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
