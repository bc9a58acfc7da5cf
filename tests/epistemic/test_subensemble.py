"""Sub-ensembles from one network: masked layers against explicitly masked copies, hard masks, the regularisers on
hand-made masks, the EU method's instances and the safetensors round trip."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from torch import nn

from uqseg.epistemic.subensemble import (
    MaskedConv2d,
    MaskedLinear,
    SubEnsemble,
    SubensembleMasks,
    attach_masks,
    load_subensemble,
    mask_mutual_information,
    masked_layers,
    mean_pairwise_iou,
    save_subensemble,
    select_submodel,
    size_penalty,
)
from uqseg.errors import InputError
from uqseg.nn import build_model
from uqseg.nn.config import ModelConfig

TINY = ModelConfig(in_channels=1, image_size=16, base_width=8, channel_mult=(1, 2), num_res_blocks=1,
                   attention_levels=(-1,), num_heads=2, group_norm_groups=4)


def _randomise_logits(model: nn.Module, seed: int = 0, offset: float = 0.0) -> None:
    """Mask logits of either sign (with offset 0 about half the channels off in every sub-model)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, layer in masked_layers(model):
            layer.mask_logits_out.copy_(offset + torch.randn(layer.mask_logits_out.shape, generator=gen))
            if layer.mask_logits_in is not None:
                layer.mask_logits_in.copy_(torch.randn(layer.mask_logits_in.shape, generator=gen))


def _explicit_copy(base: nn.Module, masked: nn.Module, k: int) -> nn.Module:
    """``base`` with sub-model k's channels zeroed by hand: weight rows of dropped output channels, weight columns
    of dropped input channels (per group), biases of dropped output channels."""
    out = copy.deepcopy(base)
    layers = dict(masked_layers(masked))
    with torch.no_grad():
        for name, module in out.named_modules():
            if name not in layers:
                continue
            layer = layers[name]
            for o, on in enumerate((layer.mask_logits_out[k] >= 0).tolist()):
                if not on:
                    module.weight[o] = 0
                    if module.bias is not None:
                        module.bias[o] = 0
            if layer.mask_logits_in is None:
                continue
            groups = getattr(module, "groups", 1)
            per_group = module.weight.shape[1]
            for i, on in enumerate((layer.mask_logits_in[k] >= 0).tolist()):
                if not on:
                    g, j = divmod(i, per_group)
                    rows = module.weight.shape[0] // groups
                    module.weight[g * rows:(g + 1) * rows, j] = 0
    return out


@pytest.mark.parametrize("au", ["softmax", "ssn", "prob_unet", "diffusion"])
@pytest.mark.parametrize("input_masks", [False, True])
def test_masked_model_equals_an_explicitly_masked_copy(au: str, input_masks: bool) -> None:
    torch.manual_seed(0)
    base = build_model(au, TINY).eval()
    with torch.no_grad():
        for p in base.parameters():
            p.add_(0.1 * torch.randn_like(p))  # zero-initialised output convs would hide masking
    masked = attach_masks(base, 3, input_masks=input_masks)
    _randomise_logits(masked)
    images = torch.randn(2, 1, 16, 16)
    for k in range(3):
        select_submodel(masked, k)
        torch.manual_seed(1)
        got = masked.sample(images, 2)
        torch.manual_seed(1)
        want = _explicit_copy(base, masked, k).sample(images, 2)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    torch.manual_seed(1)
    plain = base.sample(images, 2)
    assert not torch.allclose(got, plain, atol=1e-3)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [(nn.Conv2d(4, 6, 3, padding=1, groups=2), (2, 4, 5, 7)), (nn.Conv2d(3, 5, 3, stride=2, bias=False), (2, 3, 7, 9)),
     (nn.Linear(4, 3), (2, 5, 4))],
)
def test_masked_layer_equals_explicit_masking(layer: nn.Module, shape: tuple[int, ...]) -> None:
    net = nn.Sequential(layer)
    masked = attach_masks(net, 2, input_masks=True)
    assert isinstance(masked[0], (MaskedConv2d, MaskedLinear))
    with torch.no_grad():
        masked[0].mask_logits_out.copy_(torch.tensor([[1.0, -1.0, 0.0, -2.0, 3.0, -0.5][: layer.weight.shape[0]]] * 2))
        masked[0].mask_logits_in[1, 0] = -1.0
    x = torch.randn(shape)
    for k in range(2):
        select_submodel(masked, k)
        torch.testing.assert_close(masked(x), _explicit_copy(net, masked, k)(x))


def test_hard_masks_are_the_sign_of_the_logits() -> None:
    masked = attach_masks(nn.Sequential(nn.Linear(3, 4)), 2, input_masks=True)
    with torch.no_grad():
        masked[0].mask_logits_out.copy_(torch.tensor([[-0.5, 0.0, 0.3, -1e-6], [2.0, -2.0, 1e-6, -0.0]]))
        masked[0].mask_logits_in.copy_(torch.tensor([[0.0, -1.0, 1.0], [-3.0, 0.5, 0.0]]))
    masks = SubensembleMasks.from_model(masked)
    assert masks.outputs["0"].tolist() == [[False, True, True, False], [True, False, True, True]]
    assert masks.inputs["0"].tolist() == [[True, False, True], [False, True, True]]
    select_submodel(masked, 0)
    weight, bias = masked[0].masked_parameters()
    assert (weight != 0).tolist() == [[False] * 3, [True, False, True], [True, False, True], [False] * 3]
    assert (bias != 0).tolist() == [False, True, True, False]


def test_relaxed_masks_are_fresh_gumbel_draws_in_the_unit_interval() -> None:
    masked = attach_masks(nn.Sequential(nn.Linear(3, 64)), 1)
    select_submodel(masked, 0, temperature=1.0)
    first = masked[0].masked_parameters()[1] / masked[0].bias.detach()
    second = masked[0].masked_parameters()[1] / masked[0].bias.detach()
    assert float(first.detach().min()) >= 0 and float(first.detach().max()) <= 1
    assert not torch.equal(first, second)
    assert 0.3 < float(first.detach().mean()) < 0.7  # ℓ = 0: each channel kept with probability 1/2
    first.sum().backward()
    assert masked[0].mask_logits_out.grad is not None and masked[0].weight.grad is None


def test_mutual_information_on_hand_made_masks() -> None:
    h = lambda p: -p * math.log(p) - (1 - p) * math.log(1 - p)  # noqa: E731
    # K = 2 sub-models, 3 units: one split between them, one always on, one a coin flip in both.
    keep = torch.tensor([[1.0, 1.0, 0.5], [0.0, 1.0, 0.5]])
    assert float(mask_mutual_information(keep)) == pytest.approx(math.log(2) / 3)
    # K = 4: a unit in one sub-model only, and a unit in half of them.
    keep = torch.tensor([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    assert float(mask_mutual_information(keep)) == pytest.approx((h(0.25) + math.log(2)) / 2)
    # soft: p = (0.9, 0.3) → H(0.6) − (H(0.9) + H(0.3))/2
    keep = torch.tensor([[0.9], [0.3]])
    assert float(mask_mutual_information(keep)) == pytest.approx(h(0.6) - (h(0.9) + h(0.3)) / 2)


def test_pairwise_iou_on_hand_made_masks() -> None:
    masks = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    assert float(mean_pairwise_iou([masks])) == pytest.approx((1 / 3 + 1 + 1 / 3) / 3)
    # entries of several layers count together, as one long mask
    assert float(mean_pairwise_iou([masks[:, :1], masks[:, 1:]])) == pytest.approx(5 / 9)
    soft = torch.tensor([[0.5, 1.0], [0.5, 0.0]])
    assert float(mean_pairwise_iou([soft])) == pytest.approx(0.25 / (1.5 + 0.5 - 0.25))
    assert float(mean_pairwise_iou([masks[:1]])) == 0.0


def test_size_penalty_by_hand() -> None:
    masked = attach_masks(nn.Sequential(nn.Conv2d(2, 3, 3)), 1)
    with torch.no_grad():
        masked[0].mask_logits_out.copy_(torch.tensor([[0.0, 50.0, -50.0]]))
    # kept fraction (0.5 + 1 + 0) · 2 inputs · 9 taps / 54 weights = 0.5
    assert float(masked[0].expected_fraction().detach()) == pytest.approx(0.5)
    assert float(size_penalty(masked, 0.2).detach()) == pytest.approx(0.3)
    assert float(size_penalty(masked, 0.6).detach()) == 0.0
    assert float(size_penalty(masked, 0.6, both=True).detach()) == pytest.approx(0.1)
    assert float(size_penalty(masked, 0.2, both=True).detach()) == pytest.approx(0.3)
    masked = attach_masks(nn.Sequential(nn.Conv2d(2, 3, 3), nn.Linear(4, 2)), 2, input_masks=True)
    with torch.no_grad():
        masked[0].mask_logits_out.copy_(torch.tensor([[0.0, 50.0, -50.0]] * 2))
        masked[0].mask_logits_in.copy_(torch.tensor([[50.0, -50.0], [0.0, 50.0]]))
    # conv: sub-model 0 keeps 1.5 · 1 input of 2 → 0.25, sub-model 1 keeps 1.5 · 1.5 of 6 → 0.375; linear: 0.25
    torch.testing.assert_close(masked[0].expected_fraction(), torch.tensor([0.25, 0.375]))
    assert float(size_penalty(masked, 0.2).detach()) == pytest.approx(((0.05 + 0.175) / 2 + 0.05) / 2)


def _trained_masks(base: nn.Module, k: int) -> SubensembleMasks:
    masked = attach_masks(base, k)
    _randomise_logits(masked, seed=3)
    return SubensembleMasks.from_model(masked)


def test_instances_match_the_masked_model_singly_and_stacked() -> None:
    torch.manual_seed(0)
    base = build_model("softmax", TINY).eval()
    with torch.no_grad():
        for p in base.parameters():
            p.add_(0.1 * torch.randn_like(p))
    masked = attach_masks(base, 3)
    _randomise_logits(masked, seed=3, offset=1.0)
    with torch.no_grad():
        masked.head[2].mask_logits_out.fill_(1.0)  # both class logits on: a sub-model without them says 1/2
    method = SubEnsemble(base, SubensembleMasks.from_model(masked))
    assert method.num_instances == 3
    images = torch.randn(2, 1, 16, 16)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    stacked = method.sample_instances(images, 1, [0, 1, 2], seed=5)
    single = method.sample_reference(images, 1, [0, 1, 2], seed=5)
    for k in range(3):
        select_submodel(masked, k)
        torch.testing.assert_close(single[k], masked.sample(images, 1), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(stacked, single, rtol=1e-4, atol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    assert not torch.allclose(single[0], single[1], atol=1e-3)


def test_save_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    base = build_model("ssn", TINY).eval()
    masks = _trained_masks(base, 2)
    masked = attach_masks(base, 2, input_masks=True)
    _randomise_logits(masked, seed=4)
    with_inputs = SubensembleMasks.from_model(masked)
    for i, m in enumerate((masks, with_inputs)):
        path = save_subensemble(tmp_path / f"s{i}.safetensors", base.state_dict(), m, {"k": 2, "target": 0.2})
        state, loaded, meta = load_subensemble(path)
        assert meta == {"k": 2, "target": 0.2}
        assert state.keys() == base.state_dict().keys()
        assert all(torch.equal(state[k], v) for k, v in base.state_dict().items())
        assert loaded.outputs.keys() == m.outputs.keys() and loaded.inputs.keys() == m.inputs.keys()
        assert all(torch.equal(loaded.outputs[k], v) for k, v in m.outputs.items())
        assert all(torch.equal(loaded.inputs[k], v) for k, v in m.inputs.items())
    with open(tmp_path / "s0.safetensors", "rb") as handle:
        assert not handle.read(2).startswith(b"\x80")  # not a pickle
    (tmp_path / "bad.safetensors").write_bytes(b"\x80\x04junk")
    with pytest.raises(InputError, match=r"bad\.safetensors"):
        load_subensemble(tmp_path / "bad.safetensors")
    with pytest.raises(InputError, match="does not exist"):
        load_subensemble(tmp_path / "missing.safetensors")
