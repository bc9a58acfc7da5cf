"""ModelConfig, the model factory and the paper-config parameter counts (docs/method.md §4, §5)."""

from __future__ import annotations

import pytest
import torch
from nn_helpers import tiny_config
from pydantic import ValidationError

from uqseg.errors import ConfigError
from uqseg.nn import MODELS, ModelConfig, build_model
from uqseg.nn.blocks import group_norm
from uqseg.nn.prob_unet import scaled_mult


def test_defaults_match_spec():
    cfg = ModelConfig()
    assert (cfg.base_width, cfg.channel_mult, cfg.num_res_blocks, cfg.num_heads) == (32, (1, 2, 4, 8), 2, 4)
    assert cfg.resolved_attention_levels() == {2, 3}
    assert (cfg.ssn.rank, cfg.ssn.mc_samples, cfg.ssn.mean_only_epochs) == (10, 10, 10)
    assert (cfg.prob_unet.latent_dim, cfg.prob_unet.beta, cfg.prob_unet.beta_warmup_epochs) == (6, 5e-4, 32)
    assert (cfg.diffusion.input_scale, cfg.diffusion.logsnr_clip, cfg.diffusion.sampling_steps) == (0.1, 10.0, 10)
    assert ModelConfig(channel_mult=(1, 2, 4)).resolved_attention_levels() == {1, 2}


@pytest.mark.parametrize(
    "bad",
    [{"unknown": 1}, {"attention_levels": (4,)}, {"channel_mult": ()}, {"image_size": 100}, {"dropout": 1.0}],
)
def test_invalid_config_rejected(bad):
    with pytest.raises(ValidationError):
        ModelConfig(**bad)


def test_group_norm_groups_for_small_widths():
    assert group_norm(256).num_groups == 32
    assert group_norm(8).num_groups == 8
    assert group_norm(24).num_groups == 24
    assert group_norm(48).num_groups == 24
    assert group_norm(8, max_groups=3).num_groups == 2


def test_scaled_mult():
    assert scaled_mult((1, 2, 4, 8), 0.75) == (1, 2, 3, 6)
    assert scaled_mult((1, 2, 4, 8), 1.0) == (1, 2, 4, 8)


def test_unknown_model_lists_options():
    with pytest.raises(ConfigError, match="softmax, ssn, prob_unet, diffusion"):
        build_model("bayesian", tiny_config())


def test_appendix_variant_builds_and_runs():
    for name in MODELS:
        model = build_model(name, tiny_config(variant="appendix"))
        with torch.no_grad():
            out = model.sample(torch.randn(1, 3, 16, 16), 2)
        assert out.shape == (2, 1, 2, 16, 16)


def test_paper_config_parameter_counts():
    with torch.device("meta"):
        counts = {name: build_model(name, ModelConfig()).num_parameters() for name in MODELS}
    assert abs(counts["diffusion"] / 15.81e6 - 1) < 0.003
    assert counts["softmax"] < counts["ssn"] < counts["diffusion"] < counts["prob_unet"]
