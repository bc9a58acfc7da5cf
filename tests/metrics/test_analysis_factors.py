"""The validation factors of EU rescaling and the hook with several factors (docs/method.md "Open questions")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from uqseg.errors import InputError
from uqseg.metrics import Evaluator
from uqseg.metrics.analyses import FACTOR_NAMES, AnalysisHook, ValidationFactors
from uqseg.metrics.rescaling import FactorSearch

C, K, H, W = 2, 3, 10, 12


def _batches(n: int, seed: int, shift: float = 0.0, eu_scale: float = 0.01) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(0, n, 5):
        p1 = np.clip(rng.beta(0.5, 0.5, (5, H, W)) + shift, 0.0, 1.0)
        au = rng.gamma(2.0, 0.1, (5, H, W)) + shift
        eu = eu_scale * au * rng.uniform(0.2, 1.0, (5, H, W))
        ann = (rng.random((5, K, H, W)) < p1[:, None]).astype(np.int64)
        out.append({"tu": au + eu, "au": au, "eu": eu, "mean": np.stack([1 - p1, p1], axis=1), "annotations": ann})
    return out


def test_validation_factors_match_the_mean_ratio_and_the_search() -> None:
    val = _batches(10, 0)
    fit, search = ValidationFactors(), FactorSearch()
    for b in val:
        fit.add(b)
        search.add(b["au"], b["eu"], b["annotations"], b["mean"].argmax(1))
    au = np.concatenate([b["au"] for b in val])
    eu = np.concatenate([b["eu"] for b in val])
    assert fit.factor("mean_ratio") == pytest.approx(au.sum() / eu.sum())
    for task in ("CAL", "CAL_NLL", "AMB"):
        assert fit.factor(f"search:{task}") == search.best(task)
    with pytest.raises(InputError, match="unknown EU factor"):
        fit.factor("search:OODD")


def test_zero_eu_and_absent_annotators_say_why_no_factor() -> None:
    zero = ValidationFactors()
    for b in _batches(5, 0, eu_scale=0.0):
        zero.add(b)
    for name in FACTOR_NAMES:
        with pytest.raises(InputError, match="EU"):
            zero.factor(name)
    absent = ValidationFactors()
    batch = _batches(5, 1)[0]
    batch["annotations"][0, 2] = -1  # annotator 3 did not label image 0
    absent.add(batch)
    assert absent.factor("mean_ratio") > 0
    with pytest.raises(InputError, match="every annotator"):
        absent.factor("search:AMB")


def test_hook_rows_and_replicates_per_factor_are_those_of_an_evaluator_of_the_rescaled_maps() -> None:
    data = {"val": _batches(10, 0), "test": _batches(10, 1), "ood": _batches(10, 2, shift=0.3)}
    factors = {"mean_ratio": 40.0, "search:AMB": 3.0}
    hook = AnalysisHook(C, ood_splits=["ood"], eu_factors=factors, rank=False)
    by_hand = {}
    for name, f in factors.items():  # the rescaled maps fed to a plain evaluator: TU' = AU + f·EU, EU' = f·EU
        ev = Evaluator(C, ood_splits=["ood"])
        for b in data["val"]:
            ev.add_validation({**b, "tu": b["au"] + f * b["eu"], "eu": f * b["eu"]})
        for split in ("test", "ood"):
            for b in data[split]:
                ev.add(split, {**b, "tu": b["au"] + f * b["eu"], "eu": f * b["eu"]})
        by_hand[name] = ev
    for b in data["val"]:
        hook.add_validation(b)
    for split in ("test", "ood"):
        for b in data[split]:
            hook.add(split, b)
    rows = hook.results()
    assert set(rows.analysis) == {"eu_rescaled:mean_ratio", "eu_rescaled:search:AMB"}
    key = ["split", "task", "measure", "metric", "aggregation"]
    for name, ev in by_hand.items():
        mine = rows[rows.analysis == f"eu_rescaled:{name}"].set_index(key).value
        ref = ev.results().set_index(key).value
        for k, v in mine.items():
            if k[1] == "RESCALE":
                assert v == factors[name]
            elif k[1] != "CAL":  # NCC, AUROC, the ratio: exact; ACE up to the histogram's bins
                assert v == pytest.approx(ref[k], rel=1e-6, abs=1e-9), (name, k)
            else:
                assert v == pytest.approx(ref[k], abs=5e-3), (name, k)
    reps = hook.bootstrap(50, key="d/seed0")
    plain = Evaluator(C, ood_splits=["ood"])
    for b in data["val"]:
        plain.add_validation(b)
    for split in ("test", "ood"):
        for b in data[split]:
            plain.add(split, b)
    main = plain.bootstrap(50, key="d/seed0").set_index(key)
    resc = reps[reps.analysis == "eu_rescaled:mean_ratio"].set_index(key)
    auroc = ("ood", "OODD", "EU", "auroc", "border")  # scale-free, so the paired resamples give the same values
    np.testing.assert_allclose(resc.loc[auroc].filter(regex=r"^b\d+$").to_numpy(float),
                               main.loc[auroc].to_numpy(float), atol=1e-6)
    assert set(resc.index.get_level_values("measure")) == {"TU", "EU", "EU/AU"}
    assert isinstance(reps, pd.DataFrame) and reps.filter(regex=r"^b\d+$").shape[1] == 50
