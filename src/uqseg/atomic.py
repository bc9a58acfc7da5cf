"""Atomic file output: write under a temporary name in the same folder, then rename into place.

A reader never sees a half-written file under the final name; a crash leaves at most a ``.tmp-*`` file, which
``remove_stale_temporaries`` cleans up.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from uqseg.faults import kill_during_write

TMP_PREFIX = ".tmp-"


def _umask_mode(base: int) -> int:
    """``base`` permissions under the process umask (mkstemp/mkdtemp create owner-only entries)."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync and rename it to ``path``, on error delete it."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX + final.name + ".", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        kill_during_write(final, tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        tmp.chmod(_umask_mode(0o666))
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_directory(path: Path | str) -> Iterator[Path]:
    """Yield a temporary directory beside ``path``; on success rename it to ``path`` (replacing nothing)."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX + final.name + ".", dir=final.parent))
    try:
        yield tmp
        kill_during_write(final, tmp)
        if final.exists():
            shutil.rmtree(final)
        tmp.chmod(_umask_mode(0o777))
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_bytes_atomic(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def remove_stale_temporaries(root: Path | str) -> int:
    """Delete leftovers of interrupted atomic writes below ``root``; return how many were removed."""
    removed = 0
    for leftover in sorted(Path(root).rglob(TMP_PREFIX + "*"), reverse=True):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
        removed += 1
    return removed
