"""Project-wide test settings: a headless matplotlib backend and deterministic torch."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYTHONHASHSEED", "0")
