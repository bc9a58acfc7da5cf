"""Test-only fault injection (crash safety; docs/reliability.md): a crash half-way through a write.

With ``UQSEG_FAULT_KILL_WRITE=<text>[@<n>]`` set, the n-th (default: first) atomic write whose destination path
contains ``<text>`` cuts its temporary file to half its size and SIGKILLs its own process before the rename, exactly
as a crash in the middle of writing would leave it. Unset, which is the default, nothing happens.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

KILL_WRITE_ENV = "UQSEG_FAULT_KILL_WRITE"
_matches = 0


def kill_during_write(final: Path, tmp: Path) -> None:
    """SIGKILL this process, ``tmp`` half-written, if ``final`` is the write ``UQSEG_FAULT_KILL_WRITE`` names."""
    global _matches
    spec = os.environ.get(KILL_WRITE_ENV)
    if not spec:
        return
    text, _, nth = spec.partition("@")
    if text not in final.as_posix():
        return
    _matches += 1
    if _matches < int(nth or 1):
        return
    if tmp.is_file():
        os.truncate(tmp, tmp.stat().st_size // 2)
    os.kill(os.getpid(), signal.SIGKILL)
