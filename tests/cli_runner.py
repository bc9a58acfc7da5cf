"""Run the ``uqseg`` console entry point in the test process (tests/ is on sys.path through its conftest)."""

from __future__ import annotations

import sys

import pytest

from uqseg.cli import main


def run_uqseg(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``uqseg ARGS`` through ``uqseg.cli.main``: its exit code, stdout and stderr."""
    monkeypatch.setattr(sys, "argv", ["uqseg", *args])
    try:
        main()
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
