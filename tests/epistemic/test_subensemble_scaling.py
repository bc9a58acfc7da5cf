"""Sub-ensemble options that make the mask fit independent of the model: dropout-style normalize (its scale by hand,
the stored flag and its effect on inference), the reference-loss scaling (invariant to the loss's scale), the
fraction initialisation, and a fit on a tiny trained U-Net that keeps channels with the defaults."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from epistemic_doubles import NoisyNet
from safetensors.torch import load_file, save_file
from test_subensemble_fit import _discs
from torch import Tensor, nn

from uqseg.data.contract import Split
from uqseg.epistemic.subensemble import (
    MaskedConv2d,
    SubEnsemble,
    SubensembleMasks,
    apply_masks,
    attach_masks,
    fraction_init_logit,
    hard_masks,
    keep_scale,
    load_subensemble,
    masked_layers,
    save_subensemble,
    select_submodel,
)
from uqseg.nn import build_model
from uqseg.nn.base import AleatoricModel
from uqseg.nn.config import ModelConfig
from uqseg.training.config import SubensembleConfig
from uqseg.training.data import train_loader
from uqseg.training.subensemble_fit import fit_masks, kept_fractions, reference_loss


def _batch(split: Split, n: int | None = None) -> dict[str, Tensor]:
    return {"image": torch.from_numpy(np.asarray(split.images[:n])),
            "annotations": torch.from_numpy(np.asarray(split.annotations[:n]))}


class ScaledLoss(NoisyNet):
    """NoisyNet whose loss is multiplied by a constant (a summed instead of a mean-reduced loss, say)."""

    def __init__(self, factor: float, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.factor = factor

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        return self.factor * super().loss(batch)


@pytest.fixture(scope="module")
def split() -> Split:
    return _discs(n=32)


@pytest.fixture(scope="module")
def base(split: Split) -> NoisyNet:
    model = NoisyNet(width=8, noise=0.5)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    torch.manual_seed(0)
    for _ in range(40):
        optimizer.zero_grad()
        model.loss(_batch(split)).backward()
        optimizer.step()
    return model.eval()


def test_keep_scale_is_the_inverse_keep_ratio_on_hand_made_masks() -> None:
    weight, bias = torch.randn(4, 2, 3, 3), torch.randn(4)
    out_mask, in_mask = torch.tensor([1.0, 0.0, 1.0, 1.0]), torch.tensor([0.0, 1.0])
    assert float(keep_scale(out_mask)) == pytest.approx(4 / 3)
    w, b = apply_masks(weight, bias, out_mask, in_mask, normalize=True)
    expected = weight * (4 / 3 * 2) * out_mask[:, None, None, None] * in_mask[None, :, None, None]
    torch.testing.assert_close(w, expected)
    torch.testing.assert_close(b, bias * out_mask * 4 / 3)  # the bias sees only the output scale
    plain_w, plain_b = apply_masks(weight, bias, out_mask, in_mask)
    torch.testing.assert_close(w, plain_w * 8 / 3)
    torch.testing.assert_close(b, plain_b * 4 / 3)
    w0, b0 = apply_masks(weight, bias, torch.zeros(4), None, normalize=True)  # nothing kept: zeros, not NaN
    assert torch.equal(w0, torch.zeros_like(weight)) and torch.equal(b0, torch.zeros_like(bias))


def test_normalized_masked_layer_equals_the_stored_hard_masks(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.SiLU(), nn.Conv2d(6, 2, 3, padding=1))
    model = NoisyNet(width=6, noise=0.0)
    model.conv1, model.conv2 = net[0], net[2]
    masked = attach_masks(model, 2, normalize=True)
    with torch.no_grad():
        masked.conv1.mask_logits_out.copy_(torch.tensor([[1.0, -1, -1, 1, -1, -1], [1, 1, 1, -1, 1, -1]]))
    masks = SubensembleMasks.from_model(masked)
    assert masks.normalize and masks.outputs["conv1"].sum(1).tolist() == [2, 4]
    images = torch.randn(3, 1, 8, 8)
    for k, scale in ((0, 3.0), (1, 1.5)):
        select_submodel(masked, k)
        layer: MaskedConv2d = masked.conv1
        weight, _ = layer.masked_parameters()
        torch.testing.assert_close(weight, model.conv1.weight * masks.outputs["conv1"][k].float()[:, None, None, None]
                                   * scale)
        with torch.no_grad():
            expected = masked.logits(images)
        path = save_subensemble(tmp_path / f"s{k}.safetensors", model.state_dict(), masks)
        _, loaded, _ = load_subensemble(path)
        assert loaded.normalize
        with torch.no_grad():
            got = SubEnsemble(model, loaded).sample_instances(images, 1, [k], seed=0)[0, 0]
        torch.testing.assert_close(got, torch.softmax(expected, 1))


def test_normalize_flag_round_trips_changes_inference_and_defaults_to_off_for_old_files(tmp_path: Path) -> None:
    model = NoisyNet(width=8, noise=0.0)
    outputs = {"conv1": torch.tensor([[1, 0, 1, 0, 0, 0, 1, 1]]).bool(), "conv2": torch.tensor([[1, 1]]).bool()}
    images = torch.randn(2, 1, 8, 8)
    maps = {}
    for normalize in (False, True):
        path = save_subensemble(tmp_path / f"{normalize}.safetensors", model.state_dict(),
                                SubensembleMasks(outputs, {}, normalize))
        _, masks, _ = load_subensemble(path)
        assert masks.normalize is normalize
        with torch.no_grad():
            maps[normalize] = SubEnsemble(model, masks).sample_instances(images, 1, [0], seed=0)
    assert not torch.allclose(maps[False], maps[True], atol=1e-3)
    # a file written before the flag existed: same tensors, metadata without "normalize"
    path = tmp_path / "True.safetensors"
    with open(path, "rb") as handle:
        meta = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))["__metadata__"]
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(path)), str(old), metadata={k: v for k, v in meta.items() if k != "normalize"})
    _, masks, _ = load_subensemble(old)
    assert masks.normalize is False
    with torch.no_grad():
        torch.testing.assert_close(SubEnsemble(model, masks).sample_instances(images, 1, [0], seed=0), maps[False])


def test_expected_hard_masks_keep_the_expected_count_of_the_largest_logits() -> None:
    p = torch.tensor([[0.45, 0.45, 0.3, 0.2, 0.1], [0.1, 0.1, 0.1, 0.1, 0.05], [0.9, 0.9, 0.9, 0.6, 0.55]])
    logits = 0.5 * torch.logit(p)  # σ(2ℓ) = p; Σ p = 1.5 → 2 units, 0.45 → at least 1, 3.85 → 4
    assert hard_masks(logits, "sign").sum(1).tolist() == [0, 0, 5]
    expected = hard_masks(logits, "expected")
    assert expected.tolist() == [[True, True, False, False, False], [True, False, False, False, False],
                                 [True, True, True, True, False]]


def test_fraction_init_gives_the_target_expected_fraction() -> None:
    for input_masks in (False, True):
        logit = fraction_init_logit(0.2, input_masks)
        model = attach_masks(NoisyNet(width=8), 3, input_masks=input_masks, init=logit)
        for _, layer in masked_layers(model):
            torch.testing.assert_close(layer.expected_fraction(), torch.full((3,), 0.2))
    assert fraction_init_logit(0.2, False) == pytest.approx(0.5 * math.log(0.2 / 0.8))


def test_reference_loss_is_the_mean_loss_of_the_first_batches(split: Split, base: NoisyNet) -> None:
    loader = train_loader(split, batch_size=8, seed=0, rank=0, world_size=1, num_workers=0, pin_memory=False)
    loader.sampler.set_epoch(0)
    batches = [b for _, b in zip(range(2), loader, strict=False)]
    with torch.no_grad():
        expected = sum(float(base.loss(b)) for b in batches) / 2
    assert reference_loss(base, loader, 2, seed=0, device="cpu") == pytest.approx(expected)


@pytest.mark.parametrize("loss_scale", ["reference", "none"])
def test_reference_scaling_makes_the_fit_invariant_to_the_loss_scale(split: Split, base: NoisyNet,
                                                                     loss_scale: str) -> None:
    cfg = SubensembleConfig(k=2, epochs=2, loss_scale=loss_scale)
    logits = []
    for factor in (1.0, 1000.0):
        scaled = ScaledLoss(factor, width=8, noise=0.5)
        scaled.load_state_dict(base.state_dict())
        fit = fit_masks(scaled.eval(), split, cfg, batch_size=8, seed=0)
        logits.append(torch.cat([layer.mask_logits_out.detach().flatten() for _, layer in masked_layers(fit.model)]))
    if loss_scale == "reference":
        torch.testing.assert_close(logits[0], logits[1], rtol=1e-3, atol=1e-3)
    else:
        assert not torch.allclose(logits[0], logits[1], atol=1e-2)


def _hard_loss(model: AleatoricModel, masks: SubensembleMasks, k: int, batch: dict[str, Tensor]) -> float:
    """The loss of hard-masked sub-model k on ``batch`` (ln 2 for a two-class model that says 1/2 everywhere)."""
    method = SubEnsemble(model, masks)
    with method._open(k) as sub:
        return float(sub.loss(batch))


@pytest.mark.slow
def test_defaults_keep_channels_on_a_trained_unet_where_the_authors_settings_collapse(split: Split) -> None:
    cfg = ModelConfig(in_channels=1, image_size=16, base_width=8, channel_mult=(1, 2), num_res_blocks=1,
                      attention_levels=(), group_norm_groups=4)
    torch.manual_seed(0)
    unet: AleatoricModel = build_model("softmax", cfg)
    optimizer = torch.optim.Adam(unet.parameters(), lr=3e-3)
    for _ in range(60):
        optimizer.zero_grad()
        unet.loss(_batch(split)).backward()
        optimizer.step()
    unet.eval()
    batch = _batch(split)
    kept, losses = {}, {}
    for name, sub in (("default", SubensembleConfig(k=3, epochs=3)),
                      ("authors", SubensembleConfig(k=3, epochs=3, loss_scale="none", init_keep=None,
                                                    hard_masks="sign", scope="all"))):
        fit = fit_masks(unet, split, sub, batch_size=8, seed=0)
        kept[name] = kept_fractions(fit.masks)
        with torch.no_grad():
            losses[name] = [_hard_loss(unet, fit.masks, k, batch) for k in range(3)]
    assert min(kept["default"]) > 0.03 and max(losses["default"]) < 0.5 * math.log(2), (kept, losses)
    assert max(kept["authors"]) < min(kept["default"]) and max(losses["authors"]) > max(losses["default"]), (kept,
                                                                                                             losses)
