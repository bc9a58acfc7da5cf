"""One tiny end-to-end run per AU model × EU family with the real networks through ``run_combination`` (the tiny
preset on synthetic LIDC): train a few steps, predict every split, evaluate; every metric present and finite where
defined."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uqseg.experiments import run_combination

EXPECTED = {("AMB", "ncc"), ("AMB", "ncc_oracle"), ("CAL", "ace_global"), ("CAL", "ace_image"), ("SEG", "dice"),
            ("SEG", "ged_dice"), ("SEG", "ged_iou"), ("COLLAPSE", "eu_au_ratio"), ("OODD", "auroc")}
AUS = ("softmax", "ssn", "prob_unet", "diffusion")
FAMILIES = ("none", "dropout", "swag", "ensemble")
COMBOS = [(au, eu) for au in AUS for eu in FAMILIES if (au, eu) != ("softmax", "none")]
QUICK = [("softmax", "swag"), ("ssn", "none"), ("prob_unet", "dropout"), ("diffusion", "ensemble")]


def _check(tmp_path, au: str, eu: str) -> None:
    run = run_combination("synthetic-lidc", f"{au}+{eu}", tmp_path, preset="tiny")
    table = pd.read_parquet(run.metrics)
    assert set(zip(table.task, table.metric, strict=True)) == EXPECTED
    ok = table.status == "ok"
    assert np.isfinite(table.value[ok]).all()
    assert (~ok).sum() <= 2 and set(table.status[~ok]) <= {"undefined: mean AU is 0", "undefined"}


@pytest.mark.slow
@pytest.mark.parametrize("au,eu", QUICK)
def test_combination_quick(tmp_path, au: str, eu: str) -> None:
    """Every AU model and every EU family once (tests/experiments/test_combination.py runs one in the default set)."""
    _check(tmp_path, au, eu)


@pytest.mark.slow
@pytest.mark.parametrize("au,eu", COMBOS)
def test_combination_full(tmp_path, au: str, eu: str) -> None:
    _check(tmp_path, au, eu)
