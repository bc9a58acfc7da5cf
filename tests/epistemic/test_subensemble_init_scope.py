"""Sub-ensemble mask start and scope (docs/method.md "Sub-ensembles from one network"): the masks start at the keep
probability ``init_keep`` (ℓ = 0 with null, the target with fraction_init); Prob. UNet's latent nets stay unmasked
unless ``scope: all``, and its sub-models keep the base model's prior and posterior weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from uqseg.data.contract import Split
from uqseg.epistemic.subensemble import SubEnsemble, attach_masks, exempted, masked_layers
from uqseg.errors import ConfigError
from uqseg.nn import build_model
from uqseg.nn.config import ModelConfig
from uqseg.training.config import SubensembleConfig
from uqseg.training.subensemble_fit import fit_masks

CFG = ModelConfig(in_channels=1, image_size=16, base_width=8, channel_mult=(1, 2), num_res_blocks=1,
                  attention_levels=(), group_norm_groups=4)


@pytest.fixture(scope="module")
def split() -> Split:
    rng = np.random.default_rng(0)
    images = rng.normal(size=(8, 1, 16, 16)).astype(np.float32)
    annotations = (rng.random((8, 2, 16, 16)) < 0.3).astype(np.int64)
    return Split("train", images, annotations)


def _start_keep(model: torch.nn.Module, split: Split, **kw: object) -> torch.Tensor:
    """σ(2ℓ) of every output mask logit before any step (limit_batches=0)."""
    fit = fit_masks(model, split, SubensembleConfig(k=2, epochs=1, **kw), batch_size=4, seed=0, limit_batches=0)
    return torch.cat([torch.sigmoid(2 * layer.mask_logits_out.detach()).flatten()
                      for _, layer in masked_layers(fit.model)])


@pytest.mark.parametrize(("kw", "keep"), [({}, 0.9), ({"init_keep": 0.7}, 0.7), ({"init_keep": None}, 0.5),
                                          ({"fraction_init": True, "target": 0.3}, 0.3)])
def test_masks_start_at_init_keep_or_the_authors_zero_or_the_target(split: Split, kw: dict, keep: float) -> None:
    torch.manual_seed(0)
    keeps = _start_keep(build_model("softmax", CFG).eval(), split, **kw)
    torch.testing.assert_close(keeps, torch.full_like(keeps, keep))


def test_exempted_matches_the_submodule_and_what_lies_inside_it_only() -> None:
    assert exempted("prior", ("prior",)) and exempted("prior.encoder.0", ("prior",))
    assert not exempted("prior_net.0", ("prior",)) and not exempted("unet.prior", ("prior",))
    assert not exempted("prior.encoder", ())


def test_prob_unet_latent_nets_are_unmasked_unless_scope_all(split: Split) -> None:
    torch.manual_seed(0)
    model = build_model("prob_unet", CFG).eval()
    assert model.subensemble_exempt == ("prior", "posterior")
    assert build_model("softmax", CFG).subensemble_exempt == ()
    fit = fit_masks(model, split, SubensembleConfig(k=2, epochs=1, hard_masks="expected"), batch_size=4, seed=0)
    names = list(fit.masks.outputs)
    assert names and not any(exempted(n, model.subensemble_exempt) for n in names)
    assert any(n.startswith("unet.") for n in names) and any(n.startswith("fcomb.") for n in names)
    everything = fit_masks(model, split, SubensembleConfig(k=2, epochs=1, scope="all"), batch_size=4, seed=0,
                           limit_batches=0)
    assert any(n.startswith("prior.") for n in everything.masks.outputs)
    assert any(n.startswith("posterior.") for n in everything.masks.outputs)
    method = SubEnsemble(model, fit.masks)
    base = {n: p.detach() for n, p in model.named_parameters()}
    for k in range(2):
        weights = method.instance_weights(k)
        assert all(torch.equal(weights[n], base[n]) for n in base if n.startswith(("prior.", "posterior.")))
        assert any(not torch.equal(weights[n], base[n]) for n in base if n.startswith("unet."))


def test_a_model_whose_every_layer_is_exempt_cannot_be_masked() -> None:
    model = build_model("softmax", CFG)
    with pytest.raises(ConfigError, match="no Conv2d or Linear layer to mask"):
        attach_masks(model, 2, exempt=tuple(n for n, _ in model.named_children()))
