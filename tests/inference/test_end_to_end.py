"""One tiny end-to-end run per AU model × EU family with the real networks: train a few steps
through the training layer, predict every split, evaluate; every metric present and finite where defined."""

from __future__ import annotations

import numpy as np
import pytest
from inference_doubles import tiny_dataset

from uqseg.inference.combination import evaluate_combination
from uqseg.inference.config import InferenceConfig
from uqseg.nn.config import ModelConfig
from uqseg.training.config import TrainConfig

MODEL = ModelConfig(in_channels=1, num_classes=2, image_size=32, base_width=8, channel_mult=(1, 2), num_res_blocks=1,
                    group_norm_groups=8, attention_levels=(-1,), ssn={"rank": 2, "mc_samples": 2,
                                                                      "mean_only_epochs": 0},
                    diffusion={"sampling_steps": 2})
TRAIN = TrainConfig(epochs=2, batch_size=4, swag_epochs=2, swag_max_cols=2, limit_train_batches=1,
                    accelerator="cpu")
INFER = InferenceConfig(samples=2, instances=2, ensemble_size=2, batch_size=4, stored_sample_images=1)
EXPECTED = {("AMB", "ncc"), ("AMB", "ncc_oracle"), ("CAL", "ace_global"), ("CAL", "ace_image"), ("SEG", "dice"),
            ("SEG", "ged_dice"), ("SEG", "ged_iou"), ("COLLAPSE", "eu_au_ratio"), ("OODD", "auroc")}
AUS = ("softmax", "ssn", "prob_unet", "diffusion")
FAMILIES = ("none", "dropout", "swag", "ensemble")
COMBOS = [(au, eu) for au in AUS for eu in FAMILIES if (au, eu) != ("softmax", "none")]
QUICK = [("softmax", "swag"), ("ssn", "none"), ("prob_unet", "dropout"), ("diffusion", "ensemble")]


def _check(tmp_path, au: str, eu: str, sizes: dict[str, int]) -> None:
    data = tiny_dataset(sizes, size=32)
    table = evaluate_combination(au, eu, dataset="tiny", dataset_options={}, model=MODEL, train=TRAIN,
                                 inference=INFER, root=tmp_path, seed=0, progress=False, data=data)
    assert set(zip(table.task, table.metric, strict=True)) == EXPECTED
    ok = table.status == "ok"
    assert np.isfinite(table.value[ok]).all()
    assert (~ok).sum() <= 2 and set(table.status[~ok]) <= {"undefined: mean AU is 0", "undefined"}


@pytest.mark.parametrize("au,eu", QUICK)
def test_combination_quick(tmp_path, au: str, eu: str) -> None:
    """Every AU model and every EU family once (the full grid is the slow test below)."""
    _check(tmp_path, au, eu, {"train": 4, "val": 2, "test": 2, "ood-noise": 2})


@pytest.mark.slow
@pytest.mark.parametrize("au,eu", COMBOS)
def test_combination_full(tmp_path, au: str, eu: str) -> None:
    _check(tmp_path, au, eu, {"train": 8, "val": 4, "test": 4, "ood-noise": 4})
