"""Path safety of a benchmark run directory (docs/conventions.md "Run directory"; its layout is ``uqseg.layout``).

Output paths named in a config are relative to the run directory and cannot leave it: absolute paths, ``..``
components and symlinks that point outside are rejected. Input paths (the ``root`` of a prepared real dataset) are
read, never written, so they may be absolute; a relative input path resolves against the current directory.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from uqseg.errors import ConfigError


def check_relative(relative: str | Path, *, what: str = "path") -> PurePosixPath:
    """The parts of an output path, refusing one that is empty, absolute or uses ``..``."""
    text = str(relative)
    if not text or text.strip() != text:
        raise ConfigError(f"{what} {text!r} must be a non-empty relative path without surrounding spaces")
    pure = PurePosixPath(text.replace("\\", "/"))
    if pure.is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive:
        raise ConfigError(f"{what} {text!r} must be relative to the run directory, not absolute")
    if ".." in pure.parts:
        raise ConfigError(f"{what} {text!r} must not contain '..': outputs stay inside the run directory")
    return pure


def inside_run_dir(run_dir: Path, relative: str | Path, *, what: str = "path") -> Path:
    """``run_dir / relative``, refusing a path that is absolute, uses ``..`` or resolves outside ``run_dir``."""
    pure = check_relative(relative, what=what)
    base = Path(run_dir).resolve()
    target = (base / Path(*pure.parts)).resolve()
    if target != base and base not in target.parents:
        raise ConfigError(f"{what} {str(relative)!r} resolves to {target}, outside the run directory {base}")
    return base / Path(*pure.parts)


def input_path(path: str | Path) -> Path:
    """An input path (read only): absolute as given, relative ones against the current directory."""
    return Path(path).expanduser().resolve()


def slug(name: str) -> str:
    """A file-name-safe, collision-free form of a step name: readable part plus a short hash of the name."""
    readable = re.sub(r"[^A-Za-z0-9+._-]+", "_", name).strip("._")[:80]
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
