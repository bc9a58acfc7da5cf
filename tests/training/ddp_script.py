"""Train a tiny shared run with DDP on CPU (2 gloo processes); Lightning re-launches this script per rank."""

from __future__ import annotations

import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from training_doubles import FakeSwagState, make_run, tiny_dataset, tiny_factory

from uqseg.training.train import train_run

if __name__ == "__main__":
    try:
        import uqseg.epistemic.swag  # noqa: F401
    except ImportError:
        sys.modules["uqseg.epistemic.swag"] = types.SimpleNamespace(SwagState=FakeSwagState)
    run = make_run(epochs=2, swag_epochs=1, devices=2, strategy="ddp")
    train_run(run, tiny_dataset(n_train=16, size=16), Path(sys.argv[1]), progress=False, model_factory=tiny_factory)
