"""Inference tests share the EU-method test doubles in tests/epistemic."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "epistemic"))
