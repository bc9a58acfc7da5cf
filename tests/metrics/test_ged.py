"""GED within EU instances, 1 − Dice and 1 − IoU (docs/method.md §3 Segmentation quality)."""

import itertools

import numpy as np
import pytest

from uqseg.metrics import Evaluator, ged, instance_ged

Y1, Y2 = [1, 1, 0, 0], [1, 0, 0, 0]
S1, S2 = [1, 1, 0, 0], [0, 0, 0, 0]


def _maps(*rows: list[int]) -> np.ndarray:
    return np.array(rows)[:, None, None, :]  # n×B×H×W with B = 1, H = 1


def test_hand_computed_instance_and_no_eu_convention() -> None:
    ann = _maps(Y1, Y2).transpose(1, 0, 2, 3)  # B×K×H×W
    # One instance {S1, S2}: d_dice(S1,Y2) = 1/3, d(S2,·) = 1 (one side empty), d(Y1,Y2) = 1/3, d(S1,S2) = 1.
    # E d(S,Y) = 7/12, E d(S,S') = 1/2, E d(Y,Y') = 1/6 → 2·7/12 − 1/2 − 1/6 = 1/2; IoU: 2·5/8 − 1/2 − 1/4 = 1/2.
    pooled = instance_ged(ann, _maps(S1, S2)[None])
    assert pooled["dice"][0, 0] == pytest.approx(0.5) and pooled["iou"][0, 0] == pytest.approx(0.5)
    # No-EU: S1 and S2 are instances of one sample: (2·(0 + 1/3)/2 − 1/6 + 2·1 − 1/6) / 2 = 1 (Dice).
    single = instance_ged(ann, _maps(S1, S2)[:, None])
    assert single["dice"].mean(0)[0] == pytest.approx(1.0)
    # IoU: (2·(0 + 1/2)/2 − 1/4 + 2 − 1/4) / 2 = 1
    assert single["iou"].mean(0)[0] == pytest.approx(1.0)
    assert ged(ann, _maps(S1, S2), distance="dice")[0] == pytest.approx(0.5)


def _brute(samples: np.ndarray, ann: np.ndarray, c: int, kind: str) -> float:
    """Loop reference for one image: samples S×H×W, ann K×H×W."""
    def d(x: np.ndarray, y: np.ndarray) -> float:
        sims = []
        for k in range(1, c):
            a, b = x == k, y == k
            inter, union, total = (a & b).sum(), (a | b).sum(), a.sum() + b.sum()
            if kind == "dice":
                sims.append(1.0 if total == 0 else 2 * inter / total)
            else:
                sims.append(1.0 if union == 0 else inter / union)
        return 1 - float(np.mean(sims))

    sy = np.mean([d(s, y) for s, y in itertools.product(samples, ann)])
    ss = np.mean([d(s, t) for s, t in itertools.product(samples, samples)])
    yy = np.mean([d(y, z) for y, z in itertools.product(ann, ann)])
    return 2 * sy - ss - yy


def test_instance_ged_matches_a_loop_for_three_classes() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, (3, 4, 2, 6, 7))  # M×S×B×H×W
    labels[1, :, 1] = 0  # empty foreground against non-empty annotators
    ann = rng.integers(0, 3, (2, 3, 6, 7))
    out = instance_ged(ann, labels, 3)
    for kind in ("dice", "iou"):
        ref = [[_brute(labels[m, :, b], ann[b], 3, kind) for b in range(2)] for m in range(3)]
        np.testing.assert_allclose(out[kind], ref, atol=1e-12)


def test_evaluator_averages_ged_over_instances() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, (3, 2, 4, 8, 8))
    ann = rng.integers(0, 2, (4, 3, 8, 8))
    mean = np.full((4, 2, 8, 8), 0.5)
    u = rng.random((4, 8, 8))
    batch = {"tu": u, "au": u, "eu": u, "mean": mean, "annotations": ann}
    ev = Evaluator(2, ood_splits=["ood"])
    ev.add_validation(batch)
    ev.add("test", {**batch, "sample_labels": labels})
    ev.add("ood", {**batch, "sample_labels": labels[:, 0]})  # 4-D: instances of one sample
    res = ev.results().set_index(["split", "metric"]).value
    ref = instance_ged(ann, labels)
    assert res["test", "ged_dice"] == pytest.approx(ref["dice"].mean(0).mean())
    assert res["test", "ged_iou"] == pytest.approx(ref["iou"].mean(0).mean())
    assert res["ood", "ged_dice"] == pytest.approx(instance_ged(ann, labels[:, :1])["dice"].mean())
