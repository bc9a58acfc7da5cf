"""Command-line conventions: --version, exit codes and one-line errors naming the option, file or key, enum
choices in --help, UQSEG_OUT / UQSEG_DEBUG, nothing created by a refused run, the CLI without click or Ray."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from cli_runner import run_uqseg
from uqseg.errors import ConfigError, UqsegError
from uqseg.experiments.lock import RunLock

TINY = ["--preset", "tiny", "--no-progress"]


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_version_is_the_package_version(monkeypatch, capsys) -> None:
    code, out, _ = run_uqseg(monkeypatch, capsys, "--version")
    assert code == 0 and out.strip() == f"uqseg {version('uqseg')}"


@pytest.mark.parametrize("args,option", [
    (["train", "--dataset", "synthetic-lidc", "--combo", "ssn+none", "--out", "x", "--epochs", "two"], "'--epochs'"),
    (["models", "--image-size", "abc"], "'--image-size'"),
    (["benchmark", "--bogus"], "--bogus"),
    (["train", "--dataset", "synthetic-lidc", "--au", "unet", "--eu", "none", "--out", "x"], "'--au'"),
    (["benchmark", "--executor", "slurm"], "'--executor'"),
])
def test_usage_errors_exit_2_naming_the_option(monkeypatch, capsys, args, option) -> None:
    code, _, err = run_uqseg(monkeypatch, capsys, *args)
    assert code == 2 and "Usage: uqseg" in err and option in err and "error: " not in err, err


def test_no_arguments_shows_help_not_an_error(monkeypatch, capsys) -> None:
    code, out, err = run_uqseg(monkeypatch, capsys)
    assert code in (0, 2) and "benchmark" in out + err and "Error" not in err and "error:" not in err


def test_help_lists_the_enum_choices(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    _, train_help, _ = run_uqseg(monkeypatch, capsys, "train", "--help")
    assert "softmax|ssn|prob_unet|diffusion" in train_help and "none|dropout|swag|swag_d|ensemble" in train_help
    assert "quick|standard|paper|tiny" in train_help and "UQSEG_OUT" in train_help
    _, bench_help, _ = run_uqseg(monkeypatch, capsys, "benchmark", "--help")
    assert "local|ray" in bench_help and "quick|standard|paper|tiny|FILE" in bench_help


@pytest.mark.parametrize("setup,args,needle", [
    ("file", ["train", "--dataset", "synthetic-lidc", "--combo", "ssn+none", "--out", "{p}/f"], "is a file"),
    ("file", ["train", "--dataset", "synthetic-lidc", "--combo", "ssn+none", "--out", "{p}/f/sub"], "is a file"),
    ("dir", ["data", "show", "synthetic-lidc", "--out", "{p}/d"], "is a directory"),
    ("dir", ["predict", "{p}", "--combo", "ssn+swag", "--image", "{p}/d"], "is a directory"),
    ("file", ["report", "{p}/f"], "is a file"),
    ("none", ["train", "--dataset", "synthetic-lidc", "--combo", "ssn", "--out", "{p}/r"], "--combo 'ssn'"),
    ("none", ["train", "--dataset", "synthetic-lidc", "--out", "{p}/r"], "--combo"),
    ("none", ["train", "--dataset", "synthetic-lidc", "--combo", "softmax+none", "--out", "{p}/r"], "softmax+none"),
    ("none", ["evaluate", "--dataset", "nope", "--combo", "ssn+none", "--out", "{p}/r"], "datasets.nope"),
    ("none", ["evaluate", "--dataset", "synthetic-lidc", "--combo", "ssn+none", "--out", "{p}/r",
              "--set", "infer.samples=3"], "infer"),
    ("none", ["benchmark", "--combos", "ssn+none", "--out", "{p}/r", "--ray-address", "h:1"], "--executor ray"),
    ("none", ["train", "--dataset", "synthetic-lidc", "--combo", "ssn+none", "--out", "{p}/r", "--set",
              "train.accelerator=gpu"], "train.accelerator"),
    ("none", ["benchmark", "--datasets", "synthetic-lidc", "--combos", "ssn+none", "--out", "{p}/r", "--set",
              "datasets.synthetic-lidc.options.shift_severity.noise=9"], "shift_severity.noise"),
    ("none", ["benchmark", "--datasets", "synthetic-lidc", "--combos", "ssn+none", "--out", "{p}/r", "--set",
              "datasets.synthetic-lidc.options.colour=3"], "colour"),
])
def test_uqseg_errors_are_one_line_and_leave_nothing(tmp_path, monkeypatch, capsys, setup, args, needle) -> None:
    if torch_has_cuda() and "train.accelerator=gpu" in args:
        pytest.skip("this machine has a GPU")
    (tmp_path / "f").write_text("a file")
    (tmp_path / "d").mkdir()
    code, _, err = run_uqseg(monkeypatch, capsys, *[a.format(p=tmp_path) for a in args])
    line = _one_error_line(err)
    assert code == 2 and needle in line, line
    assert not (tmp_path / "r").exists()  # refused before the run directory was created


def torch_has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_locked_run_directory_is_refused_before_any_work(tmp_path, monkeypatch, capsys) -> None:
    with RunLock(tmp_path):
        code, _, err = run_uqseg(monkeypatch, capsys, "evaluate", "--dataset", "synthetic-lidc", "--combo",
                                 "ssn+none", "--out", str(tmp_path), *TINY)
    assert code == 2 and "in use by" in _one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]


def test_evaluate_refuses_a_benchmark_run_directory(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "config.yaml").write_text("name: quick\ncombos: [ssn+none, ssn+swag]\ndatasets: {a: {}, b: {}}\n")
    code, _, err = run_uqseg(monkeypatch, capsys, "evaluate", "--dataset", "synthetic-lidc", "--combo", "ssn+none",
                             "--out", str(tmp_path), *TINY)
    assert code == 2 and "another --out" in _one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]


def test_silent_ray_address_fails_within_the_timeout() -> None:
    from uqseg.experiments.preflight import check_ray_address

    with socket.socket() as server:  # accepts connections (the kernel's backlog) but never answers
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        address = f"127.0.0.1:{server.getsockname()[1]}"
        start = time.perf_counter()
        with pytest.raises(ConfigError, match=f"--ray-address {address}"):
            check_ray_address(address, timeout_s=0.5)
        assert time.perf_counter() - start < 5
    with pytest.raises(ConfigError, match="HOST:PORT"):
        check_ray_address("nonsense")


def test_ray_executor_at_a_closed_port_is_one_line(tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("ray")
    code, _, err = run_uqseg(monkeypatch, capsys, "benchmark", "--datasets", "synthetic-lidc", "--combos",
                             "ssn+none", "--out", str(tmp_path / "r"), "--executor", "ray", "--ray-address",
                             "127.0.0.1:1", *TINY)
    assert code == 2 and "127.0.0.1:1" in _one_error_line(err) and not (tmp_path / "r").exists()
    code, _, err = run_uqseg(monkeypatch, capsys, "benchmark", "--datasets", "synthetic-lidc", "--combos",
                             "ssn+none", "--out", str(tmp_path / "r"), "--set", "execution.executor=ray",
                             "--ray-address", "127.0.0.1:1", *TINY)  # the preset's executor counts too
    assert code == 2 and "127.0.0.1:1" in _one_error_line(err) and not (tmp_path / "r").exists()


def test_uqseg_debug_shows_the_traceback(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("UQSEG_DEBUG", "1")
    with pytest.raises(UqsegError, match="missing"):
        run_uqseg(monkeypatch, capsys, "report", str(tmp_path / "missing"))


def test_report_on_an_evaluate_directory_says_how_to_make_one(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "metrics").mkdir()
    code, _, err = run_uqseg(monkeypatch, capsys, "report", str(tmp_path))
    assert code == 2 and "uqseg benchmark --out" in _one_error_line(err)


def test_data_show_caches_in_the_user_cache_and_caps_n(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_uqseg(monkeypatch, capsys, "data", "show", "synthetic-lidc", "--n", "500", "--out",
                               str(tmp_path / "grid.png"))
    assert code == 0, err
    assert "showing 16" in out and (tmp_path / "grid.png").stat().st_size > 1000
    assert not (tmp_path / "runs").exists() and any((tmp_path / "cache" / "uqseg").rglob("*"))


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in ('ray', 'click'):
            raise ImportError(f'blocked {name}')
sys.meta_path.insert(0, Block())
sys.argv = ['uqseg', *sys.argv[1:]]
from uqseg.cli import main
main()
"""


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_cli_needs_neither_click_nor_ray(flag) -> None:
    env = dict(os.environ, COLUMNS="120")
    done = subprocess.run([sys.executable, "-c", BLOCKER, flag], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert ("benchmark" in done.stdout) if flag == "--help" else done.stdout.startswith("uqseg ")


def test_packaging_metadata() -> None:
    import tomllib

    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT" and "version" in project["project"]["dynamic"]
    assert "uqseg contributors" in (root / "LICENSE").read_text()
    assert (root / "src" / "uqseg" / "py.typed").is_file()
    globs = project["tool"]["setuptools"]["package-data"]["uqseg"]
    assert "py.typed" in globs
    for pattern in globs:
        assert list((root / "src" / "uqseg").glob(pattern)), f"package-data glob {pattern} matches nothing"


def test_verbose_shows_lightnings_notices(tmp_path) -> None:
    base = [sys.executable, "-m", "uqseg.cli"]
    args = ["train", "--dataset", "synthetic-lidc", "--combo", "softmax+dropout", "--preset", "tiny", "--epochs", "1",
            "--no-progress"]
    env = {k: v for k, v in os.environ.items() if k != "UQSEG_VERBOSE"}
    quiet = subprocess.run([*base, *args, "--out", str(tmp_path / "a")], capture_output=True, text=True, env=env,
                           timeout=300)
    loud = subprocess.run([*base, "--verbose", *args, "--out", str(tmp_path / "b")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert quiet.returncode == 0 and loud.returncode == 0, quiet.stderr + loud.stderr
    assert "GPU available" not in quiet.stdout + quiet.stderr and "GPU available" in loud.stdout + loud.stderr


def test_list_options_take_the_set_grammar(monkeypatch, capsys) -> None:
    from uqseg.experiments.command import int_list

    assert int_list("-2,-1", "x") == int_list("[-2, -1]", "x") == [-2, -1]  # brackets optional
    for bad in ("", "1,two", "[1.5]"):
        with pytest.raises(ConfigError, match="--channel-mult"):
            int_list(bad, "--channel-mult")
    sizes = [run_uqseg(monkeypatch, capsys, "models", "--image-size", "32", "--base-width", "8", "--channel-mult",
                       mult)[1] for mult in ("1,2", "[1,2]")]
    assert sizes[0] == sizes[1] and "softmax" in sizes[0]
