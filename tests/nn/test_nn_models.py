"""Shapes, simplex, gradients, reproducibility and input checks of the four AU models (docs/method.md §5)."""

from __future__ import annotations

import pytest
import torch
from nn_helpers import tiny_config, toy_batch, train_steps

from uqseg.errors import InputError
from uqseg.nn import build_model


def test_sample_and_predict_are_probabilities(tiny_model):
    images = toy_batch(batch=3)["image"]
    with torch.no_grad():
        samples = tiny_model.sample(images, 4)
        pred = tiny_model.predict(images)
    assert samples.shape == (4, 3, 2, 16, 16)
    assert pred.shape == (3, 2, 16, 16)
    for probs, axis in ((samples, 2), (pred, 1)):
        assert torch.isfinite(probs).all() and (probs >= 0).all()
        torch.testing.assert_close(probs.sum(axis), torch.ones_like(probs.sum(axis)))


def test_loss_is_finite_scalar(tiny_model):
    loss = tiny_model.loss(toy_batch())
    assert loss.dim() == 0 and torch.isfinite(loss)


def test_gradients_reach_every_parameter(tiny_model):
    batch = toy_batch()
    train_steps(tiny_model, batch, steps=2, lr=1e-2)
    tiny_model.zero_grad()
    tiny_model.loss(batch).backward()
    missing = [n for n, p in tiny_model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_sampling_reproducible_under_seed(tiny_model):
    images = toy_batch()["image"]
    with torch.no_grad():
        torch.manual_seed(7)
        first = tiny_model.sample(images, 3)
        torch.manual_seed(7)
        second = tiny_model.sample(images, 3)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_loss_draws_one_annotator_per_image_with_torch_rng(tiny_model):
    batch = toy_batch()
    torch.manual_seed(3)
    first = tiny_model.loss(batch)
    torch.manual_seed(3)
    second = tiny_model.loss(batch)
    assert first.item() == second.item()


def test_bad_inputs_raise_input_error(tiny_model):
    batch = toy_batch()
    with pytest.raises(InputError):
        tiny_model.sample(torch.randn(1, 1, 16, 16), 2)
    with pytest.raises(InputError):
        tiny_model.sample(batch["image"], 0)
    with pytest.raises(InputError):
        tiny_model.loss({"image": batch["image"], "annotations": batch["annotations"].float()})
    with pytest.raises(InputError):
        tiny_model.loss({"image": batch["image"], "annotations": batch["annotations"] + 5})
    with pytest.raises(InputError):
        tiny_model.loss({"image": batch["image"]})


def test_softmax_samples_are_identical():
    model = build_model("softmax", tiny_config())
    with torch.no_grad():
        samples = model.sample(toy_batch()["image"], 3)
    torch.testing.assert_close(samples[0], samples[2])
