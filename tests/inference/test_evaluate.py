"""Evaluation of stored predictions of one combination, trained and predicted with test doubles."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
import pytest
from inference_doubles import evaluate_doubles, tiny_dataset

from uqseg.errors import InputError, NumericalError
from uqseg.inference.config import InferenceConfig
from uqseg.inference.evaluate import evaluate_predictions
from uqseg.training.config import TrainConfig

TRAIN = TrainConfig(epochs=2, batch_size=4, swag_epochs=2, swag_max_cols=2, lr=1e-2, ema_decay=0.5,
                    accelerator="cpu")
INFER = InferenceConfig(samples=3, instances=3, ensemble_size=2, batch_size=4, stored_sample_images=2)
EXPECTED = {("AMB", "ncc"), ("AMB", "ncc_oracle"), ("CAL", "ace_global"), ("CAL", "ace_image"), ("SEG", "dice"),
            ("SEG", "ged_dice"), ("SEG", "ged_iou"), ("COLLAPSE", "eu_au_ratio"), ("OODD", "auroc")}


def _run(tmp_path, eu: str, au: str = "ssn") -> pd.DataFrame:
    return evaluate_predictions(evaluate_doubles(tmp_path, au, eu, tiny_dataset(), TRAIN, INFER), tiny_dataset())


@pytest.mark.parametrize("au,eu", [("ssn", "none"), ("ssn", "dropout"), ("ssn", "swag"), ("softmax", "ensemble")])
def test_combination_end_to_end(tmp_path, au: str, eu: str) -> None:
    table = _run(tmp_path, eu, au)
    assert set(zip(table.task, table.metric, strict=True)) == EXPECTED
    assert set(table.split) == {"test", "ood-noise"}
    ok = table[table.status == "ok"]
    assert np.isfinite(ok.value).all() and (table.status != "ok").sum() <= 2
    assert table[table.task != "OODD"].groupby(["task", "metric"]).size().min() >= 1


def test_alignment_and_nan_checks(tmp_path) -> None:
    _run(tmp_path, "none")
    pred_dir = tmp_path / "predictions"
    with pytest.raises(InputError, match=r"val\.h5.*5 images"):
        evaluate_predictions(pred_dir, tiny_dataset({"val": 5}))
    with pytest.raises(InputError, match=r"val\.h5.*32×32"):
        evaluate_predictions(pred_dir, tiny_dataset(size=32))
    with h5py.File(pred_dir / "ood-noise.h5", "r+") as f:
        f["eu"][3, 0, 0] = np.nan
    with pytest.raises(NumericalError, match=r"ssn\+none split 'ood-noise'.*image index 3"):
        evaluate_predictions(pred_dir, tiny_dataset())
    (pred_dir / "test.h5").write_bytes(b"broken")
    with pytest.raises(InputError, match=r"test\.h5"):
        evaluate_predictions(pred_dir, tiny_dataset())
