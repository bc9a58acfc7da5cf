"""Ctrl-C (docs/reliability.md "Interruption"): SIGINT sent to the whole process group of a ``uqseg`` command, as a
terminal does, while a step is running. The command must exit 130 with the one line ``interrupted`` on stderr and
no traceback (worker processes included); the benchmark must log the running step as ``interrupted``, not failed.

Each command runs through a wrapper script that slows one function down: it writes a marker file and sleeps. The
wrapper is the ``__main__`` of the command, so spawned worker processes re-run it and get the same slow function.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability_helpers import BENCHMARK

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data_prepare"))
from chaksu_fixture import build_chaksu_tree

from uqseg.experiments.steps import read_step_log

WRAPPER = '''
import os, sys, time
from pathlib import Path

def slow(*args, **kwargs):
    Path(os.environ["SLOW_MARKER"]).write_text(str(os.getpid()))
    time.sleep(120)

target = os.environ["SLOW_TARGET"]
if target == "data-step":
    import uqseg.experiments.stepfns as module
    module.run_data = slow
elif target == "chaksu-image":
    import uqseg.data.prepare.chaksu as module
    module.load_sample = slow
elif target == "training-loss":
    from uqseg.nn.softmax import SoftmaxModel
    SoftmaxModel.loss = slow

if __name__ == "__main__":
    from uqseg.cli import main
    sys.argv = ["uqseg", *sys.argv[1:]]
    main()
'''


def interrupt(tmp_path: Path, target: str, args: list[str], group: bool = True
              ) -> tuple[subprocess.CompletedProcess, int, int]:
    """Run ``uqseg ARGS`` with ``target`` slowed down and SIGINT its process group (as Ctrl-C does) or, with
    ``group`` false, the command's process only (``kill -INT``) once the slow call has started. Returns the
    finished process, the command's pid and the pid that ran the slow call."""
    wrapper, marker = tmp_path / "slow_uqseg.py", tmp_path / "slow.started"
    wrapper.write_text(WRAPPER)
    env = {**os.environ, "SLOW_TARGET": target, "SLOW_MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, str(wrapper), *args], env=env, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"the slow call never started (exit {proc.returncode}): {err[-2000:]}")
        time.sleep(0.1)
    time.sleep(0.5)
    (os.killpg if group else os.kill)(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the command did not stop within 60 s of SIGINT")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), proc.pid, int(marker.read_text())


def assert_interrupted(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 130, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == "interrupted", done.stderr[-2000:]
    assert done.stderr.count("interrupted") == 1, done.stderr[-2000:]


def assert_gone(pid: int) -> None:
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"worker {pid} still runs after the interrupted command exited")


@pytest.mark.parametrize("workers", [1, 2])
def test_benchmark_ctrl_c_exits_130_and_logs_the_step_as_interrupted(tmp_path: Path, workers: int) -> None:
    run_dir = tmp_path / "run"
    done, main_pid, slow_pid = interrupt(tmp_path, "data-step",
                                         [*BENCHMARK, "--out", str(run_dir), "--set", f"execution.workers={workers}"])
    assert_interrupted(done)
    assert (slow_pid != main_pid) == (workers > 1)
    assert_gone(slow_pid)
    events = [e for e in read_step_log(run_dir) if e["name"].startswith("data/")]
    assert [e["status"] for e in events] == ["start", "interrupted"], events


@pytest.mark.parametrize("group", [True, False])
def test_prepare_chaksu_ctrl_c_with_workers(tmp_path: Path, group: bool) -> None:
    chaksu_tree = build_chaksu_tree(tmp_path / "CHAKSU")
    args = ["data", "prepare", "chaksu", "--source", str(chaksu_tree), "--out", str(tmp_path / "c"), "--workers", "2",
            "--no-progress"]
    done, _, slow_pid = interrupt(tmp_path, "chaksu-image", args, group)
    assert_interrupted(done)
    assert_gone(slow_pid)
    assert not (tmp_path / "c").exists()


def test_train_ctrl_c_exits_130(tmp_path: Path) -> None:
    args = ["train", "--dataset", "synthetic-lidc", "--au", "softmax", "--eu", "dropout", "--epochs", "1", "--out",
            str(tmp_path / "t"), "--no-progress", "--preset", "tiny"]
    done, _, _ = interrupt(tmp_path, "training-loss", args)
    assert_interrupted(done)
