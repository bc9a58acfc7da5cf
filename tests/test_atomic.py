"""Atomic writes: all or nothing under the final name, with the permissions a plain write would give."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from uqseg.atomic import TMP_PREFIX, atomic_directory, atomic_path, remove_stale_temporaries, write_text_atomic


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_file_has_umask_permissions(tmp_path: Path, umask_022) -> None:
    path = write_text_atomic(tmp_path / "a" / "out.txt", "hello")
    assert path.read_text() == "hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_directory_has_umask_permissions(tmp_path: Path, umask_022) -> None:
    with atomic_directory(tmp_path / "report") as tmp:
        (tmp / "index.html").write_text("x")
    assert stat.S_IMODE((tmp_path / "report").stat().st_mode) == 0o755


def test_error_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_removed(tmp_path: Path) -> None:
    (tmp_path / f"{TMP_PREFIX}x.1").write_text("half")
    (tmp_path / "sub" / f"{TMP_PREFIX}dir.2").mkdir(parents=True)
    (tmp_path / "keep.txt").write_text("ok")
    assert remove_stale_temporaries(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["keep.txt", "sub"]
