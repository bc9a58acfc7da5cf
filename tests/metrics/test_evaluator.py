"""Tests of the streaming Evaluator against one-shot functional metrics (docs/method.md §3)."""

import numpy as np
import pytest

from uqseg.errors import InputError
from uqseg.metrics import Evaluator, ace, aggregate, auroc, fit_platt, ncc, pixel_correctness, platt_confidence
from uqseg.uncertainty import decompose


def _batch(rng, n, shift=0.0):
    x = rng.random((4, 3, n, 2, 12, 16)) + shift
    p = x / x.sum(-3, keepdims=True)
    m = decompose(p)
    ann = (rng.random((n, 3, 12, 16)) < 0.4 + 0.2 * m.mean[:, 1:2]).astype(np.int64)
    labels = p[0].argmax(2)  # S×B×H×W: S instances of one sample
    return {"tu": m.tu, "au": m.au, "eu": m.eu, "mean": m.mean, "annotations": ann, "sample_labels": labels,
            "oracle": m.mean}


def _run(batches):
    ev = Evaluator(2, ood_splits=["ood"])
    for b in batches["val"]:
        ev.add_validation(b)
    for split in ("test", "ood"):
        for b in batches[split]:
            ev.add(split, b)
    return ev, ev.results()


def test_streaming_equals_oneshot_and_references():
    rng = np.random.default_rng(0)
    data = {"val": [_batch(rng, 3), _batch(rng, 2)], "test": [_batch(rng, 3), _batch(rng, 2)],
            "ood": [_batch(rng, 4, shift=0.3)]}
    ev, res = _run(data)
    assert set(res.columns) == {"split", "task", "measure", "metric", "aggregation", "value", "status"}
    assert (res.status == "ok").all() and res.value.notna().all()
    axis = {"sample_labels": 1}
    cat = {k: {f: np.concatenate([b[f] for b in v], axis=axis.get(f, 0)) for f in v[0]} for k, v in data.items()}
    one = Evaluator(2, ood_splits=["ood"])
    one.add_validation(cat["val"])
    for s in ("test", "ood"):
        one.add(s, cat[s])
    pd_one = one.results()
    np.testing.assert_allclose(res.value.to_numpy(), pd_one.value.to_numpy(), atol=1e-6)

    v, t = cat["val"], cat["test"]
    pred_v = v["mean"].argmax(1)
    q = float((pred_v == 0).mean())
    assert ev.tau["EU"] == pytest.approx(np.quantile(v["eu"], q), abs=1e-4)
    corr = pixel_correctness(v["annotations"], pred_v)
    u = np.broadcast_to(v["tu"][:, None], corr.shape).ravel()
    a, b = fit_platt(u, corr.ravel())
    grid = np.linspace(u.min(), u.max(), 50)
    np.testing.assert_allclose(platt_confidence(grid, *ev.platt["TU"]), platt_confidence(grid, a, b), atol=1e-3)

    pred_t = t["mean"].argmax(1)
    ct = pixel_correctness(t["annotations"], pred_t)
    conf = np.broadcast_to(platt_confidence(t["tu"], *ev.platt["TU"])[:, None], ct.shape)
    row = res[(res.split == "test") & (res.metric == "ace_global") & (res.measure == "TU")].value.item()
    assert row == pytest.approx(ace(ct, conf), abs=1e-9)
    row = res[(res.split == "test") & (res.metric == "ace_image") & (res.measure == "TU")].value.item()
    assert row == pytest.approx(np.mean([ace(ct[i], conf[i]) for i in range(len(ct))]), abs=1e-9)
    var = t["annotations"].var(1)
    row = res[(res.split == "test") & (res.metric == "ncc") & (res.measure == "AU")].value.item()
    assert row == pytest.approx(np.mean(ncc(t["au"], var)))
    o = cat["ood"]
    ref = auroc(aggregate(t["eu"], pred_t, "border"), aggregate(o["eu"], o["mean"].argmax(1), "border"))
    row = res[(res.task == "OODD") & (res.measure == "EU") & (res.aggregation == "border")].value.item()
    assert row == pytest.approx(ref)


def test_add_before_validation_and_bad_batch():
    rng = np.random.default_rng(1)
    ev = Evaluator(2, ood_splits=["ood"])
    with pytest.raises(InputError, match="validation"):
        ev.add("test", _batch(rng, 1))
    b = _batch(rng, 1)
    b["tu"] = b["tu"].copy()
    b["tu"][0, 0, 0] = np.nan
    with pytest.raises(InputError, match="tu"):
        ev.add_validation(b)
    with pytest.raises(InputError, match="split"):
        ev.add_validation(_batch(rng, 1))
        ev.add("nope", _batch(rng, 1))


def test_missing_ood_split_reports_status():
    rng = np.random.default_rng(2)
    ev = Evaluator(2, ood_splits=["ood"])
    ev.add_validation(_batch(rng, 2))
    ev.add("ood", _batch(rng, 2))
    res = ev.results()
    o = res[res.task == "OODD"]
    assert o.value.isna().all() and (o.status == "undefined: single class").all()


def test_task_entanglement_from_tidy_table():
    import pandas as pd

    from uqseg.metrics import entanglement, task_entanglement

    rows = [("ood-a", "OODD", "EU", "auroc", "border", 0.8), ("ood-a", "OODD", "AU", "auroc", "border", 0.6),
            ("ood-b", "OODD", "EU", "auroc", "border", 0.6), ("ood-b", "OODD", "AU", "auroc", "border", 0.6),
            ("test", "AMB", "AU", "ncc", "none", -0.2), ("test", "AMB", "EU", "ncc", "none", 0.5),
            ("test", "CAL", "TU", "ace_global", "none", 0.1), ("test", "CAL", "AU", "ace_global", "none", 0.3),
            ("test", "CAL", "EU", "ace_global", "none", 0.2)]
    t = pd.DataFrame(rows, columns=["split", "task", "measure", "metric", "aggregation", "value"])
    d = task_entanglement(t).set_index("task")
    assert d.loc["OODD", "delta"] == pytest.approx(entanglement(0.7, 0.6))
    assert d.loc["AMB", "out_of_range"] and d.loc["AMB", "delta"] < -1
    assert d.loc["CAL", "wrong_measure"] == "EU"
    assert d.loc["CAL", "delta"] == pytest.approx(entanglement(0.1, 0.2, lower_is_better=True))
