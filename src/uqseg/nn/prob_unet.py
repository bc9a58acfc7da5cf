"""Probabilistic UNet (docs/method.md §5; Kohl et al. 2018) on the shared backbone.

The UNet's channel multipliers are scaled by ``mult_scale`` (rounded up: (1, 2, 4, 8)·0.75 → (1, 2, 3, 6)). Prior
p(z|x) and posterior q(z|x, y) are encoder-only nets (the posterior sees the image ⊕ the one-hot annotator mask);
each gives (μ, log σ) of a diagonal Gaussian after a global mean; its linear layer is initialised as the authors'
(Kaiming-normal weights, bias ~ N(0, 0.01²)). log σ is soft-clamped to ±5 with 5·tanh(·/5), so σ ∈ (e⁻⁵, e⁵) and the
KL stay finite while gradients never vanish (the authors take exp(log σ) unbounded; docs/method.md §5). fcomb
concatenates the decoder features with z and applies three 1×1 conv + ReLU and a 1×1 conv to classes. The features
are computed once per image; the first fcomb conv is split into its feature part (once per image) and its z part
(once per sample).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uqseg.nn.base import AleatoricModel, check_n, random_annotator
from uqseg.nn.config import ModelConfig
from uqseg.nn.unet import AttentionEncoder, AttentionUNet

LOG_SIGMA_LIMIT = 5.0


def scaled_mult(channel_mult: tuple[int, ...], scale: float) -> tuple[int, ...]:
    """Channel multipliers scaled and rounded up (docs/method.md §5: (1, 2, 4, 8)·0.75 → (1, 2, 3, 6))."""
    return tuple(max(1, math.ceil(m * scale - 1e-9)) for m in channel_mult)


def diagonal_kl(mu_q: Tensor, log_sigma_q: Tensor, mu_p: Tensor, log_sigma_p: Tensor) -> Tensor:
    """KL(q‖p) of diagonal Gaussians, summed over the last dimension."""
    var_ratio = torch.exp(2 * (log_sigma_q - log_sigma_p))
    mean_term = (mu_q - mu_p).pow(2) * torch.exp(-2 * log_sigma_p)
    return 0.5 * (var_ratio + mean_term - 1).sum(-1) + (log_sigma_p - log_sigma_q).sum(-1)


class LatentNet(nn.Module):
    """Encoder-only net → global mean → linear to (μ, log σ) of a diagonal Gaussian."""

    def __init__(self, cfg: ModelConfig, in_channels: int, channel_mult: tuple[int, ...]) -> None:
        super().__init__()
        self.encoder = AttentionEncoder(cfg, in_channels, channel_mult)
        self.to_params = nn.Linear(self.encoder.out_channels, 2 * cfg.prob_unet.latent_dim)
        nn.init.kaiming_normal_(self.to_params.weight, mode="fan_in", nonlinearity="relu")
        nn.init.normal_(self.to_params.bias, mean=0.0, std=1e-2)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(μ, log σ) of q or p, each B×L; log σ = 5·tanh(raw / 5) ∈ (−5, 5) (docs/method.md §5)."""
        mu, raw = self.to_params(self.encoder(x).mean((2, 3))).chunk(2, dim=-1)
        return mu, LOG_SIGMA_LIMIT * torch.tanh(raw / LOG_SIGMA_LIMIT)


class FComb(nn.Module):
    """fcomb: [features ⊕ z] → three (1×1 conv + ReLU) → 1×1 conv to classes (docs/method.md §5)."""

    def __init__(self, feature_ch: int, latent_dim: int, hidden: int, num_classes: int) -> None:
        super().__init__()
        self.feature_ch = feature_ch
        self.first = nn.Conv2d(feature_ch + latent_dim, hidden, 1)
        self.rest = nn.Sequential(
            nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
            nn.Conv2d(hidden, num_classes, 1),
        )

    def forward(self, features: Tensor, z: Tensor) -> Tensor:
        """Logits n×B×C×H×W for features B×F×H×W and latents z n×B×L.

        The first 1×1 conv splits into its features part, computed once per image (bias included), and its latent
        part, computed per sample on 1×1 maps; both go through ``self.first`` itself, so a stacked first layer
        (``uqseg.epistemic.stacked``) works unchanged. Rows stay image-major (B·n) through ``rest``.
        """
        n, b, latent = z.shape
        base = self.first(F.pad(features, (0, 0, 0, 0, 0, latent)))
        latent_maps = F.pad(z.transpose(0, 1), (self.feature_ch, 0)).reshape(b * n, -1, 1, 1)
        bias = self.first(features.new_zeros(b, self.feature_ch + latent, 1, 1))
        shift = self.first(latent_maps).reshape(b, n, -1, 1, 1) - bias.unsqueeze(1)
        logits = self.rest((base.unsqueeze(1) + shift).flatten(0, 1))
        return logits.reshape(b, n, *logits.shape[1:]).transpose(0, 1)


class ProbUNetModel(AleatoricModel):
    """Prior/posterior latent nets, fcomb, CE + β·KL with a linear β warm-up; at test time z ~ prior. Sub-ensemble
    masks leave the latent nets alone (docs/method.md "Sub-ensembles from one network")."""

    subensemble_exempt = ("prior", "posterior")

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        pcfg = cfg.prob_unet
        self.num_classes = cfg.num_classes
        self.in_channels = cfg.in_channels
        self.beta = pcfg.beta
        self.beta_warmup_epochs = pcfg.beta_warmup_epochs
        self.epoch: int | None = None
        mult = scaled_mult(cfg.channel_mult, pcfg.mult_scale)
        self.unet = AttentionUNet(cfg, cfg.in_channels, channel_mult=mult)
        self.prior = LatentNet(cfg, cfg.in_channels, mult)
        self.posterior = LatentNet(cfg, cfg.in_channels + cfg.num_classes, mult)
        width = self.unet.out_channels
        self.fcomb = FComb(width, pcfg.latent_dim, pcfg.fcomb_width or width, cfg.num_classes)

    def set_epoch(self, epoch: int) -> None:
        """The 0-based training epoch (Lightning's ``current_epoch``), for the β warm-up."""
        self.epoch = epoch

    @property
    def current_beta(self) -> float:
        """β·min(1, (epoch + 1) / warm-up epochs) for the 0-based epoch, as in the authors' code: the first epoch
        already trains with β / warm-up and β is full from epoch warm-up − 1 on; the full β before any ``set_epoch``
        call (docs/method.md §5)."""
        if self.epoch is None or self.beta_warmup_epochs == 0:
            return self.beta
        return self.beta * min(1.0, (self.epoch + 1) / self.beta_warmup_epochs)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Mean CE with one posterior sample + β·KL(q‖p), KL averaged over the batch (docs/method.md §5)."""
        images, annotations = self.check_batch(batch)
        target = random_annotator(annotations)
        one_hot = F.one_hot(target, self.num_classes).permute(0, 3, 1, 2).to(images.dtype)
        mu_q, log_sigma_q = self.posterior(torch.cat([images, one_hot], dim=1))
        mu_p, log_sigma_p = self.prior(images)
        z = mu_q + log_sigma_q.exp() * torch.randn_like(mu_q)
        logits = self.fcomb(self.unet(images), z.unsqueeze(0))[0]
        kl = diagonal_kl(mu_q, log_sigma_q, mu_p, log_sigma_p).mean()
        return F.cross_entropy(logits, target) + self.current_beta * kl

    def predict(self, images: Tensor) -> Tensor:
        """Softmax of fcomb at the prior mean z = μ_p (deterministic)."""
        images = self.check_images(images)
        mu_p, _ = self.prior(images)
        return self.fcomb(self.unet(images), mu_p.unsqueeze(0))[0].softmax(1)

    def sample(self, images: Tensor, n: int) -> Tensor:
        """n samples with z ~ prior, n×B×C×H×W; UNet and prior run once per image."""
        images = self.check_images(images)
        mu_p, log_sigma_p = self.prior(images)
        z = mu_p + log_sigma_p.exp() * torch.randn((check_n(n), *mu_p.shape), device=mu_p.device, dtype=mu_p.dtype)
        return self.fcomb(self.unet(images), z).softmax(2)
