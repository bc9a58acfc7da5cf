"""The run-directory lock (concurrency): one ``uqseg benchmark`` per run directory at a time.

``fcntl.flock`` on ``RUN_DIR/.lock``; the file holds the owner's pid and host. The kernel releases the lock when
the owner exits for any reason (SIGKILL included), so a stale lock file never blocks a later run.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path
from types import TracebackType

from uqseg.errors import LockedError
from uqseg.layout import RunLayout


def _owner(handle_path: Path) -> str:
    try:
        data = json.loads(handle_path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        return "another process"
    return f"pid {data.get('pid', '?')} on host {data.get('host', '?')}"


class RunLock:
    """An exclusive, non-blocking lock on a run directory; use as a context manager."""

    def __init__(self, run_dir: Path):
        self.path = RunLayout(run_dir).lock
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise LockedError naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockedError(
                f"run directory {self.path.parent} is in use by {_owner(self.path)} (lock file {self.path}); "
                "wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Release the lock (the file stays; its content is rewritten by the next owner)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
