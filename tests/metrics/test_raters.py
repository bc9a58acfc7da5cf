"""A varying number of annotators: every metric equals the same metric computed on the present annotators alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from uqseg.data.contract import ABSENT as DATA_ABSENT
from uqseg.errors import InputError
from uqseg.metrics import raters
from uqseg.metrics.ambiguity import annotator_variance
from uqseg.metrics.evaluator import Evaluator
from uqseg.metrics.segmentation import dice, instance_ged
from uqseg.nn.base import random_annotator

C, K, H, W = 3, 4, 6, 7


def _batch(seed: int, b: int = 3) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Annotations B×K×H×W with image i missing annotators ``absent[i]``, and each image's present annotators."""
    rng = np.random.default_rng(seed)
    ann = rng.integers(0, C, size=(b, K, H, W))
    absent = [[1], [], [0, 3]][:b]
    present = []
    for i, gone in enumerate(absent):
        ann[i, gone] = raters.ABSENT
        present.append(np.delete(ann[i], gone, axis=0))
    return ann, rng.integers(0, C, size=(b, H, W)), present


def test_marker_matches_the_data_layer() -> None:
    assert raters.ABSENT == DATA_ABSENT == -1


def test_dice_ged_and_variance_use_only_present_annotators() -> None:
    ann, pred, present = _batch(0)
    samples = np.random.default_rng(1).integers(0, C, size=(2, 3, ann.shape[0], H, W))
    got_dice = dice(ann, pred, C)
    got_ged = instance_ged(ann, samples, C)
    got_var = annotator_variance(ann)
    for i, kept in enumerate(present):
        assert got_dice[i] == pytest.approx(dice(kept[None], pred[i:i + 1], C)[0], abs=1e-12)
        ged_i = instance_ged(kept[None], samples[:, :, i:i + 1], C)
        for d in ("dice", "iou"):
            np.testing.assert_allclose(got_ged[d][:, i], ged_i[d][:, 0], atol=1e-12)
        np.testing.assert_allclose(got_var[i], kept.astype(float).var(0), atol=1e-12)


def test_all_present_is_unchanged() -> None:
    rng = np.random.default_rng(2)
    ann = rng.integers(0, C, size=(2, K, H, W))
    assert raters.present_raters(ann) is None
    np.testing.assert_array_equal(annotator_variance(ann), ann.astype(float).var(1))


def test_bad_absent_maps_are_refused() -> None:
    ann, pred, _ = _batch(3)
    partly = ann.copy()
    partly[1, 2, 0, 0] = raters.ABSENT
    with pytest.raises(InputError, match="partly ABSENT"):
        dice(partly, pred, C)
    nobody = ann.copy()
    nobody[2] = raters.ABSENT
    with pytest.raises(InputError, match="no annotator present"):
        annotator_variance(nobody)


def test_evaluator_matches_present_only_reference() -> None:
    """With one annotator absent from one image, the evaluator's dice, NCC and ACE equal those of a reference
    evaluator fed the same image with only its present annotators (fed alone, as its own batch)."""
    ann, _, present = _batch(4, b=2)
    rng = np.random.default_rng(5)
    probs = rng.dirichlet(np.ones(C), size=(2, H, W)).transpose(0, 3, 1, 2)
    maps = {m: rng.random((2, H, W)) for m in ("tu", "au", "eu")}

    def feed(evaluator: Evaluator, rows: list[int], annotations: list[np.ndarray]) -> None:
        for row, a in zip(rows, annotations, strict=True):
            batch = {**{m: v[row:row + 1] for m, v in maps.items()}, "mean": probs[row:row + 1],
                     "annotations": a[None]}
            evaluator.add_validation(batch)
        for row, a in zip(rows, annotations, strict=True):
            batch = {**{m: v[row:row + 1] for m, v in maps.items()}, "mean": probs[row:row + 1],
                     "annotations": a[None]}
            evaluator.add("test", batch)

    with_absent, reference = Evaluator(C, ood_splits=[]), Evaluator(C, ood_splits=[])
    feed(with_absent, [0, 1], [ann[0], ann[1]])
    feed(reference, [0, 1], present)
    left, right = with_absent.results(), reference.results()
    np.testing.assert_allclose(left["value"].to_numpy(), right["value"].to_numpy(), rtol=1e-9, equal_nan=True)


def test_random_annotator_never_picks_an_absent_one() -> None:
    ann = torch.zeros((2, 3, 4, 4), dtype=torch.int64)
    ann[0, 0] = raters.ABSENT
    ann[0, 2] = raters.ABSENT
    ann[0, 1] = 1
    ann[1, 1] = raters.ABSENT
    torch.manual_seed(0)
    picks = torch.stack([random_annotator(ann) for _ in range(200)])
    assert (picks[:, 0] == 1).all()
    assert (picks[:, 1] == 0).all()
    assert (picks >= 0).all()


def test_training_loss_accepts_absent_annotators_but_not_an_image_without_any() -> None:
    from uqseg.nn import ModelConfig, build_model

    torch.manual_seed(0)
    model = build_model("softmax", ModelConfig(in_channels=1, num_classes=2, image_size=8, base_width=8,
                                               channel_mult=(1,), num_res_blocks=1, attention_levels=(),
                                               num_heads=1))
    annotations = torch.zeros((2, 3, 8, 8), dtype=torch.int64)
    annotations[0, 1] = raters.ABSENT
    batch = {"image": torch.randn(2, 1, 8, 8), "annotations": annotations}
    assert torch.isfinite(model.loss(batch))
    annotations[1] = raters.ABSENT
    with pytest.raises(InputError, match="no annotator present"):
        model.loss(batch)
    annotations[1] = -2
    with pytest.raises(InputError, match="ABSENT"):
        model.loss(batch)
