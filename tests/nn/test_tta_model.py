"""The TTA AU model: sample shape and orientation, determinism, softmax-checkpoint sharing, nesting under MC dropout,
training with and without augmentation."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from nn_helpers import dice, tiny_config, train_steps

from uqseg.nn import build_model
from uqseg.nn.config import TTAConfig
from uqseg.nn.dropout import fixed_dropout, sample_instances
from uqseg.nn.softmax import SoftmaxModel
from uqseg.nn.tta import TTAModel
from uqseg.nn.tta_transforms import WEAK, AugmentSet

NO_AUGMENTATION = AugmentSet(flip_p=0.0, rotate_deg=0.0, scale_p=0.0, noise_p=0.0)


def randomise_head(model: SoftmaxModel) -> SoftmaxModel:
    """Replace the zero-initialised output conv by random weights, so an untrained net is not constant 0.5."""
    with torch.no_grad():
        for p in model.head.parameters():
            p.normal_(0.0, 0.5)
    return model


def tta_model(size: int = 16, **tta) -> TTAModel:
    torch.manual_seed(0)
    return randomise_head(TTAModel(tiny_config(image_size=size, tta=TTAConfig(**tta)))).eval()


def shape_batch(size: int = 16) -> dict[str, torch.Tensor]:
    """Two images showing their own non-symmetric foreground (an L, a bar) under noise; one annotator each."""
    el = torch.zeros(size, size, dtype=torch.long)
    el[3:12, 4:7] = 1
    el[9:12, 4:11] = 1
    bar = torch.zeros(size, size, dtype=torch.long)
    bar[5:9, 6:14] = 1
    labels = torch.stack([el, bar])
    noise = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    return {"image": labels[:, None].float().expand(2, 3, size, size) + 0.2 * noise, "annotations": labels[:, None]}


def test_sample_shape_normalised_and_deterministic_given_the_seed():
    model, images = tta_model(), torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        torch.manual_seed(7)
        a = model.sample(images, 5)
        torch.manual_seed(7)
        b = model.sample(images, 5)
        torch.manual_seed(8)
        c = model.sample(images, 5)
        d = model.sample(images, 5, generator=torch.Generator().manual_seed(1))
        e = model.sample(images, 5, generator=torch.Generator().manual_seed(1))
    assert a.shape == (5, 3, 2, 16, 16)
    assert torch.allclose(a.sum(2), torch.ones(5, 3, 16, 16), atol=1e-5) and bool((a >= 0).all())
    assert torch.equal(a, b) and torch.equal(d, e)
    assert not torch.equal(a, c)
    assert float((a - a.mean(0)).abs().max()) > 1e-4  # the samples differ


def test_samples_come_back_in_the_image_frame():
    # With a pixel-wise "network" (foreground where channel 0 is bright), every TTA sample must show the image's own
    # non-symmetric shape: a sample left in the augmented frame would be flipped, rotated or zoomed.
    model = tta_model(size=32)
    model.augment_set = replace(WEAK, noise_p=0.0)
    model.logits = lambda x: torch.cat([-x[:, :1], x[:, :1]], 1) * 20.0
    shape = torch.zeros(32, 32)
    shape[6:24, 8:13] = 1.0
    shape[19:24, 8:22] = 1.0
    images = (shape - 0.5).expand(1, 3, 32, 32).clone()
    with torch.no_grad():
        torch.manual_seed(0)
        samples = model.sample(images, 12)[:, 0, 1]
        torch.manual_seed(0)
        augmented = model.logits(torch.stack([images[0]] * 12)).softmax(1)[:, 1]
    assert all(dice((s > 0.5).float(), shape) > 0.9 for s in samples)
    assert dice((samples.mean(0) > 0.5).float(), shape) > 0.95
    assert torch.equal(augmented[0] > 0.5, shape > 0.5)  # sanity: the stand-in network segments the shape


def test_a_softmax_checkpoint_loads_and_without_augmentation_tta_is_the_softmax_network():
    torch.manual_seed(3)
    softmax = randomise_head(SoftmaxModel(tiny_config())).eval()
    model = tta_model()
    model.load_state_dict(softmax.state_dict(), strict=True)
    assert [k for k, _ in model.named_parameters()] == [k for k, _ in softmax.named_parameters()]
    model.augment_set = NO_AUGMENTATION
    images = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected = softmax.predict(images)
        assert torch.allclose(model.sample(images, 3), expected.expand(3, -1, -1, -1, -1), atol=1e-6)
        assert torch.equal(model.predict(images), expected)


def test_tta_builds_by_name_with_the_same_initialisation_as_softmax():
    torch.manual_seed(4)
    softmax = build_model("softmax", tiny_config())
    torch.manual_seed(4)
    tta = build_model("tta", tiny_config())
    assert isinstance(tta, TTAModel)
    assert all(torch.equal(a, b) for a, b in zip(softmax.state_dict().values(), tta.state_dict().values(),
                                                  strict=True))


def test_copies_of_an_image_stay_inside_their_dropout_instance():
    # Fixed dropout splits the batch into G instance blocks; TTA's n copies of each image must stay in the block of
    # that image's instance. Without augmentation, instance g of the batched call equals instance g run alone.
    torch.manual_seed(0)
    model = TTAModel(tiny_config(dropout=0.5)).eval()
    with torch.no_grad():  # the zero-initialised convs after each dropout would hide the masks
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    model.augment_set = NO_AUGMENTATION
    images = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        both = sample_instances(model, images, 4, [11, 12])
        for g, seed in enumerate([11, 12]):
            with fixed_dropout(model, [seed]):
                alone = model.sample(images, 4)
            assert torch.allclose(both[g], alone, atol=1e-5)
    assert both.shape == (2, 4, 2, 2, 16, 16)
    assert not torch.allclose(both[0], both[1], atol=1e-3)


@pytest.mark.parametrize("train_augment", ["none", "weak"])
def test_overfits_a_batch_and_its_tta_samples_segment_it(train_augment):
    batch = shape_batch()
    model = tta_model(train_augment=train_augment)
    torch.manual_seed(0)
    loss = train_steps(model, batch, 60, lr=1e-2)
    assert loss < 0.05
    target = batch["annotations"][:, 0].float()
    model.eval()
    with torch.no_grad():
        torch.manual_seed(1)
        samples = model.sample(batch["image"], 8)[:, :, 1]
    for i in range(2):
        assert dice((samples.mean(0)[i] > 0.5).float(), target[i]) > 0.95
        assert all(dice((s > 0.5).float(), target[i]) > 0.85 for s in samples[:, i])


def test_training_loss_augments_labels_with_the_images():
    batch = shape_batch()
    model = tta_model(train_augment="weak")
    assert model.train_set is not None
    model.train_set = NO_AUGMENTATION
    torch.manual_seed(2)
    plain = F.cross_entropy(model.logits(batch["image"]), batch["annotations"][:, 0])
    torch.manual_seed(2)
    assert torch.allclose(model.loss(batch), plain)
    # an image flipped with its labels gives the loss of the flipped batch
    model.train_set = AugmentSet(flip_p=1.0, rotate_deg=0.0, scale_p=0.0, noise_p=0.0)
    flipped = F.cross_entropy(model.logits(batch["image"].flip(-1)), batch["annotations"][:, 0].flip(-1))
    assert torch.allclose(model.loss(batch), flipped)


def test_strong_set_samples_are_finite():
    model = tta_model(augment="strong")
    with torch.no_grad():
        samples = model.sample(torch.randn(2, 3, 16, 16), 6)
    assert samples.shape == (6, 2, 2, 16, 16) and bool(torch.isfinite(samples).all())
