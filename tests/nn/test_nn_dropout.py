"""MC dropout with fixed per-instance masks (docs/method.md §6)."""

from __future__ import annotations

import pytest
import torch
from nn_helpers import AU_MODELS, tiny_config, toy_batch

from uqseg.errors import ConfigError, InputError
from uqseg.nn import build_model, fixed_dropout, sample_instances
from uqseg.nn.blocks import ResBlock
from uqseg.nn.dropout import MCDropout2d, dropout_layers


def dropout_model(name: str = "softmax"):
    torch.manual_seed(0)
    model = build_model(name, tiny_config(dropout=0.5))
    for p in model.parameters():  # zero-init convs would hide the masks: give every weight a value
        torch.nn.init.normal_(p, std=0.2)
    return model.eval()


def test_layer_behaves_like_dropout2d_outside_the_context():
    layer = MCDropout2d(4, 0.5)
    x = torch.ones(3, 4, 2, 2)
    assert torch.equal(layer.eval()(x), x)
    out = layer.train()(x)
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    assert (out == out[:, :, :1, :1]).all()  # channel-wise


def test_every_resblock_has_dropout_at_the_configured_rate():
    model = build_model("diffusion", tiny_config(dropout=0.2))
    layers = dropout_layers(model)
    resblocks = [m for m in model.modules() if isinstance(m, ResBlock)]
    assert len(layers) == len(resblocks) == 8 and all(layer.p == 0.2 for layer in layers)
    assert dropout_layers(build_model("softmax", tiny_config())) == []


def test_mask_fixed_within_instance_differs_across_instances():
    model = dropout_model()
    images = toy_batch()["image"]
    with torch.no_grad():
        with fixed_dropout(model, [1]):
            first, again = model.predict(images), model.predict(images)
        with fixed_dropout(model, [2]):
            other = model.predict(images)
        with fixed_dropout(model, [1]):
            repeat = model.predict(images)
        plain = model.predict(images)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    torch.testing.assert_close(first, repeat, rtol=0, atol=0)
    assert not torch.allclose(first, other)
    assert not torch.allclose(first, plain)
    assert all(layer.masks is None for layer in dropout_layers(model))


@pytest.mark.parametrize("name", AU_MODELS)
def test_batched_instances_equal_separate_runs(name):
    model = dropout_model(name)
    images = toy_batch()["image"]
    t = torch.full((2,), 0.4)
    x_t = torch.randn(2, 2, 16, 16)
    with torch.no_grad():
        if name == "diffusion":  # the noise differs between runs; compare the denoiser every DDIM step calls
            with fixed_dropout(model, [5, 9]):
                batched = model.denoise(x_t.repeat(2, 1, 1, 1), images.repeat(2, 1, 1, 1), t.repeat(2))
            separate = []
            for seed in (5, 9):
                with fixed_dropout(model, [seed]):
                    separate.append(model.denoise(x_t, images, t))
            torch.testing.assert_close(batched, torch.cat(separate), rtol=1e-5, atol=1e-6)
            return
        torch.manual_seed(0)
        batched = sample_instances(model, images, 3, [5, 9])
        assert batched.shape == (2, 3, 2, 2, 16, 16)
        with fixed_dropout(model, [5, 9]):
            together = model.predict(images.repeat(2, 1, 1, 1)).reshape(2, 2, 2, 16, 16)
        for g, seed in enumerate((5, 9)):
            with fixed_dropout(model, [seed]):
                torch.testing.assert_close(model.predict(images), together[g], rtol=1e-5, atol=1e-6)
        if name == "softmax":
            for g, seed in enumerate((5, 9)):
                with fixed_dropout(model, [seed]):
                    torch.testing.assert_close(model.sample(images, 3), batched[g], rtol=1e-5, atol=1e-6)


def test_diffusion_masks_held_across_all_steps():
    model = dropout_model("diffusion")
    layers = dropout_layers(model)
    seen: list[torch.Tensor] = []
    hook = layers[0].register_forward_hook(lambda module, args, out: seen.append(module.masks.clone()))
    with torch.no_grad(), fixed_dropout(model, [3]):
        model.sample(toy_batch()["image"], 2)
    hook.remove()
    assert len(seen) == model.schedule.sampling_steps
    assert all(torch.equal(mask, seen[0]) for mask in seen)


def test_instance_is_independent_of_its_companions():
    model = dropout_model()
    with fixed_dropout(model, [4, 7]):
        pair = [layer.masks[1].clone() for layer in dropout_layers(model)]
    with fixed_dropout(model, [7]):
        alone = [layer.masks[0].clone() for layer in dropout_layers(model)]
    assert all(torch.equal(a, b) for a, b in zip(pair, alone, strict=True))


def test_errors():
    model = dropout_model()
    with pytest.raises(ConfigError), fixed_dropout(build_model("softmax", tiny_config()), [1]):
        pass
    with pytest.raises(ConfigError), fixed_dropout(model, []):
        pass
    with pytest.raises(InputError), fixed_dropout(model, [1, 2]):
        model.predict(torch.randn(3, 3, 16, 16))
