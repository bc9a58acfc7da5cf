"""Hand-computed and reference checks: the diffusion schedule, DDIM, SSN and Prob. UNet formulas (docs/method.md §5)."""

from __future__ import annotations

import math

import torch
import torch.distributions as td
from nn_helpers import tiny_config, toy_batch

from uqseg.nn import build_model
from uqseg.nn.config import DiffusionConfig
from uqseg.nn.diffusion import alpha_sigma, ddim_step, gamma, logsnr
from uqseg.nn.prob_unet import FComb, diagonal_kl


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_schedule_endpoints_and_midpoint():
    cfg = DiffusionConfig()
    ends = logsnr(torch.tensor([0.0, 1.0], dtype=torch.float64), cfg)
    torch.testing.assert_close(ends, torch.tensor([10.0, -10.0], dtype=torch.float64))
    # t = 0.5: γ₀ = 0.5, γ_b = 0.01·0.5 / (−0.99·0.5 + 1) = 0.005 / 0.505
    expected = sigmoid(-10) + (sigmoid(10) - sigmoid(-10)) * (0.005 / 0.505)
    assert abs(float(gamma(torch.tensor(0.5, dtype=torch.float64))) - expected) < 1e-12
    t = torch.linspace(0, 1, 50, dtype=torch.float64)
    assert (logsnr(t, cfg).diff() < 0).all()
    alpha, sigma = alpha_sigma(t, cfg)
    torch.testing.assert_close(alpha**2 + sigma**2, torch.ones_like(t))


def test_ddim_step_by_hand():
    # ε̂ = (1 − 0.6·0.5)/0.8 = 0.875; x_s = 0.8·0.5 + 0.6·0.875 = 0.925
    out = ddim_step(torch.tensor(1.0), torch.tensor(0.5), *map(torch.tensor, (0.6, 0.8, 0.8, 0.6)))
    assert abs(float(out) - 0.925) < 1e-6


def test_ddim_sampler_batches_all_samples_and_returns_last_prediction():
    model = build_model("diffusion", tiny_config())
    images = toy_batch(batch=2)["image"]
    calls: list[tuple[int, float]] = []
    const = torch.tensor([0.3, 0.7])[None, :, None, None]

    def fake_denoise(x_t, tiled, t):
        calls.append((x_t.shape[0], float(t[0])))
        if len(calls) == 1:
            fake_denoise.x_first = x_t.clone()
        if len(calls) == 2:
            fake_denoise.x_second = x_t.clone()
        return const.expand_as(x_t)

    model.denoise = fake_denoise
    out = model.sample(images, 5)
    assert [c[0] for c in calls] == [10] * 10  # n·B in one batch, 10 steps
    assert [round(c[1], 6) for c in calls] == [round((i + 1) / 10, 6) for i in reversed(range(10))]
    torch.testing.assert_close(out, const.expand(5, 2, 2, 16, 16))
    cfg = DiffusionConfig()
    a_t, s_t = alpha_sigma(torch.tensor(1.0), cfg)
    a_s, s_s = alpha_sigma(torch.tensor(0.9), cfg)
    x = fake_denoise.x_first
    by_hand = a_s * const + s_s * (x - a_t * const) / s_t
    torch.testing.assert_close(fake_denoise.x_second, by_hand)


def test_ssn_samples_have_the_low_rank_covariance():
    model = build_model("ssn", tiny_config())
    b, c, h, w, r = 1, 2, 2, 2, model.rank
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(b, c, h, w, generator=gen, dtype=torch.float64)
    diag = torch.rand(b, c, h, w, generator=gen, dtype=torch.float64) + 0.1
    factor = 0.3 * torch.randn(b, r, c, h, w, generator=gen, dtype=torch.float64)
    torch.manual_seed(1)
    draws = model.draw_logits(mean, diag, factor, 40000).reshape(40000, -1)
    reference = td.LowRankMultivariateNormal(mean.reshape(-1), factor.reshape(r, -1).T, diag.reshape(-1))
    torch.testing.assert_close(draws.mean(0), reference.mean, atol=0.03, rtol=0)
    torch.testing.assert_close(draws.T.cov(), reference.covariance_matrix, atol=0.05, rtol=0.05)


def test_ssn_loss_matches_formula():
    model = build_model("ssn", tiny_config())
    batch = toy_batch(batch=2, annotators=1)
    torch.manual_seed(5)
    loss = model.loss(batch)
    torch.manual_seed(5)
    torch.randint(1, (2,))  # the annotator draw
    mean, diag, factor = model.distribution(batch["image"])
    logits = model.draw_logits(mean, diag, factor, model.mc_samples)
    y = batch["annotations"][:, 0]
    per_sample = torch.stack(
        [torch.stack([logits[s, i].log_softmax(0).gather(0, y[i][None]).sum() for i in range(2)]) for s in range(10)]
    )
    expected = -(torch.logsumexp(per_sample, 0) - math.log(10)).mean()
    torch.testing.assert_close(loss, expected)


def test_ssn_mean_only_warmup():
    model = build_model("ssn", tiny_config())
    assert not model.mean_only
    model.set_epoch(9)
    assert model.mean_only
    model.loss(toy_batch()).backward()
    assert model.factor_head[2].weight.grad is None
    model.set_epoch(10)
    assert not model.mean_only


def test_kl_matches_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    mu_q, ls_q, mu_p, ls_p = torch.randn(4, 3, 6, generator=gen, dtype=torch.float64).unbind(0)
    ref = td.kl_divergence(
        td.Independent(td.Normal(mu_q, ls_q.exp()), 1), td.Independent(td.Normal(mu_p, ls_p.exp()), 1)
    )
    torch.testing.assert_close(diagonal_kl(mu_q, ls_q, mu_p, ls_p), ref)


def test_fcomb_split_equals_concatenation():
    fcomb = FComb(8, 6, 8, 2)
    features, z = torch.randn(2, 8, 4, 4), torch.randn(3, 2, 6)
    out = fcomb(features, z)
    for s in range(3):
        cat = torch.cat([features, z[s][:, :, None, None].expand(2, 6, 4, 4)], dim=1)
        torch.testing.assert_close(out[s], fcomb.rest(fcomb.first(cat)), rtol=1e-5, atol=1e-6)


def test_prob_unet_beta_warmup_and_finite_sigma():
    model = build_model("prob_unet", tiny_config())
    assert model.current_beta == 5e-4
    model.set_epoch(15)
    assert abs(model.current_beta - 2.5e-4) < 1e-12
    model.set_epoch(100)
    assert model.current_beta == 5e-4
    with torch.no_grad():
        model.prior.to_params.bias.fill_(1e4)
    _, log_sigma = model.prior(toy_batch()["image"])
    assert float(log_sigma.detach().max()) <= 5.0 and torch.isfinite(model.loss(toy_batch()))
