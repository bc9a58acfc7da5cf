"""The analysis hook (docs/method.md "Open questions"): rank-correlation rows and rescaled-EU rows beside the
evaluator's, from the same batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from uqseg.errors import InputError
from uqseg.metrics import Evaluator
from uqseg.metrics.analyses import COLUMNS, AnalysisHook, mean_ratio_factor, with_analysis

C, K, H, W = 2, 3, 12, 14


def _batches(n: int, seed: int, shift: float = 0.0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(0, n, 5):
        p1 = np.clip(rng.beta(0.5, 0.5, (5, H, W)) + shift, 0.0, 1.0)
        mean = np.stack([1 - p1, p1], axis=1)
        au = rng.gamma(2.0, 0.1, (5, H, W)) + shift
        eu = 0.01 * au * rng.uniform(0.2, 1.0, (5, H, W))
        ann = (rng.random((5, K, H, W)) < p1[:, None]).astype(np.int64)
        out.append({"tu": au + eu, "au": au, "eu": eu, "mean": mean, "annotations": ann})
    return out


def _stream(factor: float | None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    data = {"val": _batches(10, 0), "test": _batches(10, 1), "ood": _batches(10, 2, shift=0.3)}
    main = Evaluator(C, ood_splits=["ood"])
    hook = AnalysisHook(C, ood_splits=["ood"], eu_factor=factor, rank_pixels=500)
    for batch in data["val"]:
        main.add_validation(batch)
        hook.add_validation(batch)
    for split in ("test", "ood"):
        for batch in data[split]:
            main.add(split, batch)
            hook.add(split, batch)
    return main.results(), hook.results(), data


def _rows(table: pd.DataFrame, analysis: str | None = None) -> pd.Series:
    t = table if analysis is None else table[table.analysis == analysis]
    return t.set_index(["split", "task", "measure", "metric", "aggregation"]).value


def test_rank_rows() -> None:
    _, rows, data = _stream(None)
    assert set(rows.analysis) == {"au_eu_rank"}
    ranks = _rows(rows)
    for split in ("test", "ood"):
        au = np.concatenate([b["au"] for b in data[split]])
        eu = np.concatenate([b["eu"] for b in data[split]])
        image = spearmanr(au.mean((1, 2)), eu.mean((1, 2))).statistic
        assert ranks[(split, "RANKCORR", "AU~EU", "spearman", "image")] == pytest.approx(image)
        pixel = ranks[(split, "RANKCORR", "AU~EU", "spearman", "pixel")]
        assert abs(pixel - spearmanr(au.ravel(), eu.ravel()).statistic) < 0.1  # 500 of 1680 pixels


def test_rescaled_rows_change_tu_only() -> None:
    main, hook, data = _stream(50.0)
    base = _rows(with_analysis(main))
    res = _rows(hook, "eu_rescaled:mean_ratio")
    assert res[("val", "RESCALE", "EU", "eu_factor", "none")] == 50.0
    assert not any(k[2] == "AU" for k in res.index)
    for key, value in res.items():
        if key[2] != "EU" or key[1] == "RESCALE":
            continue
        # EU' = 50·EU: NCC and AUROC are scale-invariant; the Platt-scaled ACE is, up to the histogram's bins
        tol = 5e-3 if key[1] == "CAL" else 1e-12
        assert value == pytest.approx(base[key], abs=tol), key
    ratio = ("test", "COLLAPSE", "EU/AU", "eu_au_ratio", "image")
    assert res[ratio] == pytest.approx(50 * base[ratio])
    tu = ("test", "AMB", "TU", "ncc", "none")
    assert res[tu] != pytest.approx(base[tu], abs=1e-6)
    factor = mean_ratio_factor(data["val"])
    au = np.concatenate([b["au"] for b in data["val"]])
    eu = np.concatenate([b["eu"] for b in data["val"]])
    assert factor == pytest.approx(au.mean() / eu.mean())


def test_factor_one_reproduces_the_main_rows() -> None:
    main, hook, _ = _stream(1.0)
    base, res = _rows(with_analysis(main)), _rows(hook, "eu_rescaled:mean_ratio")
    for key, value in res.items():
        if key[1] != "RESCALE":
            assert value == pytest.approx(base[key], abs=1e-9, nan_ok=True), key  # maps halved: only rounding


def test_with_analysis_and_errors() -> None:
    table = pd.DataFrame({"split": ["test"], "task": ["AMB"], "measure": ["AU"], "metric": ["ncc"],
                          "aggregation": ["none"], "value": [0.3], "status": ["ok"]})
    labelled = with_analysis(table)
    assert labelled.columns.tolist() == COLUMNS and labelled.analysis.tolist() == ["main"]
    with pytest.raises(InputError, match="eu_factor"):
        AnalysisHook(C, ood_splits=["ood"], eu_factor=0.0)
    with pytest.raises(InputError, match="split"):
        AnalysisHook(C, ood_splits=["ood"]).add("val", _batches(5, 0)[0])
