"""Continuous-time diffusion segmentation model (docs/method.md §5; paper §3.2, appendix A.2).

x₀ is the one-hot mask and x_t = α_t x₀ + σ_t ε with α_t² = γ(t), σ_t² = 1 − γ(t). γ is the cosine schedule
γ₀ = cos²(πt/2), input-scaled with b: γ_b = b²γ₀ / ((b² − 1)γ₀ + 1), then rescaled so that logSNR runs from +L at
t = 0 to −L at t = 1: γ = sigmoid(−L) + (sigmoid(L) − sigmoid(−L))·γ_b. The net sees x_t ⊕ image and t, predicts
x̂₀ through a softmax head and is trained with unweighted MSE. Sampling is DDIM from x_T ~ N(0, I) with all n
samples of the batch in one batch; the last step returns x̂, a probability map.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from uqseg.nn.base import AleatoricModel, check_n, random_annotator
from uqseg.nn.blocks import output_head
from uqseg.nn.config import DiffusionConfig, ModelConfig
from uqseg.nn.unet import AttentionUNet


def gamma(t: Tensor, input_scale: float = 0.1, logsnr_clip: float = 10.0) -> Tensor:
    """γ(t) = α_t² of the input-scaled, logSNR-rescaled cosine schedule (docs/method.md §5)."""
    g0 = torch.cos(0.5 * math.pi * t).pow(2)
    b2 = input_scale**2
    gb = b2 * g0 / ((b2 - 1.0) * g0 + 1.0)
    lo, hi = 1.0 / (1.0 + math.exp(logsnr_clip)), 1.0 / (1.0 + math.exp(-logsnr_clip))
    return lo + (hi - lo) * gb


def alpha_sigma(t: Tensor, cfg: DiffusionConfig) -> tuple[Tensor, Tensor]:
    """(α_t, σ_t) with α² = γ, σ² = 1 − γ."""
    g = gamma(t, cfg.input_scale, cfg.logsnr_clip)
    return g.sqrt(), (1.0 - g).sqrt()


def logsnr(t: Tensor, cfg: DiffusionConfig) -> Tensor:
    """log(α_t² / σ_t²); +logsnr_clip at t = 0 and −logsnr_clip at t = 1."""
    g = gamma(t, cfg.input_scale, cfg.logsnr_clip)
    return torch.log(g) - torch.log1p(-g)


def ddim_step(
    x_t: Tensor, x0_hat: Tensor, alpha_t: Tensor, sigma_t: Tensor, alpha_s: Tensor, sigma_s: Tensor
) -> Tensor:
    """One DDIM step t → s: ε̂ = (x_t − α_t x̂)/σ_t, x_s = α_s x̂ + σ_s ε̂ (docs/method.md §5)."""
    eps_hat = (x_t - alpha_t * x0_hat) / sigma_t
    return alpha_s * x0_hat + sigma_s * eps_hat


class DiffusionModel(AleatoricModel):
    """x-prediction diffusion on the time-conditioned backbone."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.num_classes = cfg.num_classes
        self.in_channels = cfg.in_channels
        self.schedule = cfg.diffusion
        self.unet = AttentionUNet(cfg, cfg.num_classes + cfg.in_channels, time_embedding=True)
        self.head = output_head(self.unet.out_channels, cfg.num_classes, cfg.group_norm_groups)

    def denoise(self, x_t: Tensor, images: Tensor, t: Tensor) -> Tensor:
        """x̂₀ = softmax(head(UNet(x_t ⊕ image, t))), a probability map."""
        return self.head(self.unet(torch.cat([x_t, images], dim=1), t)).softmax(1)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Unweighted MSE of x̂₀ to the one-hot target at stratified-uniform t (docs/method.md §5)."""
        images, annotations = self.check_batch(batch)
        x0 = F.one_hot(random_annotator(annotations), self.num_classes).permute(0, 3, 1, 2).to(images.dtype)
        b = images.shape[0]
        t = (torch.arange(b, device=images.device, dtype=images.dtype) + torch.rand(b, device=images.device)) / b
        alpha, sigma = alpha_sigma(t, self.schedule)
        x_t = alpha[:, None, None, None] * x0 + sigma[:, None, None, None] * torch.randn_like(x0)
        return F.mse_loss(self.denoise(x_t, images, t), x0)

    def sample(self, images: Tensor, n: int) -> Tensor:
        """n DDIM samples n×B×C×H×W; the n·B chains run as one batch (each image repeated n times in place)."""
        images = self.check_images(images)
        b, _, h, w = images.shape
        n = check_n(n)
        steps = self.schedule.sampling_steps
        tiled = images.repeat_interleave(n, dim=0)
        x = torch.randn((b * n, self.num_classes, h, w), device=images.device, dtype=images.dtype)
        ones = torch.ones(b * n, device=images.device, dtype=images.dtype)
        for i in reversed(range(steps)):
            t, s = ones * ((i + 1) / steps), ones * (i / steps)
            x0_hat = self.denoise(x, tiled, t)
            if i == 0:
                x = x0_hat
                break
            (alpha_t, sigma_t), (alpha_s, sigma_s) = alpha_sigma(t, self.schedule), alpha_sigma(s, self.schedule)
            view = (-1, 1, 1, 1)
            x = ddim_step(x, x0_hat, *(v.view(view) for v in (alpha_t, sigma_t, alpha_s, sigma_s)))
        return x.reshape(b, n, self.num_classes, h, w).transpose(0, 1)
