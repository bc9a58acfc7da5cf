"""Model details matched to the authors' code (docs/method.md §5): time embedding, SSN head init, Prob. UNet β
warm-up, latent-net init and the log σ soft clamp."""

from __future__ import annotations

import math

import torch
from nn_helpers import tiny_config, toy_batch, train_steps

from uqseg.nn import build_model
from uqseg.nn.blocks import timestep_embedding
from uqseg.nn.prob_unet import LOG_SIGMA_LIMIT, diagonal_kl


def hand_embedding(t: float, dim: int, max_period: float = 10.0) -> list[float]:
    """[cos(t·f_i)…, sin(t·f_i)…] with f_i = max_period^(−i/half), written out in a plain loop."""
    half = dim // 2
    freqs = [max_period ** (-i / half) for i in range(half)]
    out = [math.cos(t * f) for f in freqs] + [math.sin(t * f) for f in freqs]
    return out + [0.0] * (dim % 2)


def test_time_embedding_at_t0_and_t1_by_hand():
    emb = timestep_embedding(torch.tensor([0.0, 1.0]), 8)
    # t = 0: cos 0 = 1, sin 0 = 0
    torch.testing.assert_close(emb[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    # t = 1, half = 4: f = 10^0, 10^-0.25, 10^-0.5, 10^-0.75; first entries cos(1), sin(1)
    assert abs(float(emb[1, 0]) - 0.5403023) < 1e-6 and abs(float(emb[1, 4]) - 0.8414710) < 1e-6
    assert abs(float(emb[1, 3]) - math.cos(10**-0.75)) < 1e-6
    torch.testing.assert_close(emb[1], torch.tensor(hand_embedding(1.0, 8)))


def test_time_embedding_matches_loop_for_odd_dim_and_stays_within_one_period():
    t = torch.tensor([0.0, 0.13, 0.5, 1.0])
    emb = timestep_embedding(t, 33)
    ref = torch.tensor([hand_embedding(float(v), 33) for v in t])
    torch.testing.assert_close(emb, ref)
    assert emb.shape == (4, 33) and (emb[:, -1] == 0).all()
    # t ∈ [0, 1] is not rescaled: the fastest component's argument is t itself, so cos stays in [cos 1, 1]
    assert float(emb[:, :16].min()) >= math.cos(1.0) - 1e-6


def test_ssn_covariance_heads_start_at_zero():
    model = build_model("ssn", tiny_config())
    for head in (model.mean_head, model.diag_head, model.factor_head):
        assert all(float(p.detach().abs().max()) == 0.0 for p in head[2].parameters())
    _, diag, factor = model.distribution(toy_batch()["image"])
    assert float(factor.abs().max()) == 0.0
    torch.testing.assert_close(diag, torch.full_like(diag, math.log(2.0) + model.eps))


def test_ssn_loss_continuous_when_factor_switches_on():
    torch.manual_seed(0)
    model = build_model("ssn", tiny_config())
    batch = toy_batch()
    model.set_epoch(0)
    train_steps(model, batch, 3)
    losses = []
    for epoch in (model.mean_only_epochs - 1, model.mean_only_epochs):
        model.set_epoch(epoch)
        torch.manual_seed(1)
        losses.append(float(model.loss(batch)))
    assert not model.mean_only and losses[0] == losses[1]
    # the factor head is trainable once it is on: one step moves it off zero
    train_steps(model, batch, 1)
    assert float(model.factor_head[2].weight.detach().abs().max()) > 0.0


def test_prob_unet_beta_counts_epochs_from_one():
    model = build_model("prob_unet", tiny_config())
    beta, warmup = model.beta, model.beta_warmup_epochs
    assert (beta, warmup) == (5e-4, 32)
    expected = {0: beta / 32, 1: 2 * beta / 32, 15: beta / 2, 30: 31 * beta / 32, 31: beta, 32: beta, 500: beta}
    for epoch, value in expected.items():
        model.set_epoch(epoch)
        assert abs(model.current_beta - value) < 1e-15, epoch


def test_prob_unet_latent_init_as_authors():
    model = build_model("prob_unet", tiny_config(base_width=32, channel_mult=(1, 2)))
    layer = model.prior.to_params
    fan_in = layer.weight.shape[1]
    assert abs(float(layer.weight.std()) / math.sqrt(2.0 / fan_in) - 1.0) < 0.15
    assert float(layer.bias.abs().max()) < 0.05


def test_log_sigma_soft_clamp_bounds_and_slope():
    model = build_model("prob_unet", tiny_config())
    images = toy_batch()["image"]
    for raw, bound in ((1e4, LOG_SIGMA_LIMIT), (-1e4, -LOG_SIGMA_LIMIT)):
        with torch.no_grad():
            model.prior.to_params.bias.fill_(raw)
        _, log_sigma = model.prior(images)
        assert abs(float(log_sigma.max()) - bound) < 1e-6 and abs(float(log_sigma.min()) - bound) < 1e-6
        assert torch.isfinite(model.loss(toy_batch()))
    # near 0 the clamp is the identity to first order: 5·tanh(x/5) = x − x³/75 + …
    x = torch.tensor([0.0, 0.1, 1.0], requires_grad=True)
    y = LOG_SIGMA_LIMIT * torch.tanh(x / LOG_SIGMA_LIMIT)
    y.sum().backward()
    assert abs(float(y[2]) - (1 - 1 / 75)) < 1e-3 and abs(float(x.grad[0]) - 1.0) < 1e-7
    lo, hi = torch.full((1, 6), -LOG_SIGMA_LIMIT), torch.full((1, 6), LOG_SIGMA_LIMIT)
    kl = diagonal_kl(torch.zeros(1, 6), lo, torch.zeros(1, 6), hi)
    assert torch.isfinite(kl).all()
