"""Stochastic segmentation network (docs/method.md §5; Monteiro et al. 2020).

Logits η ~ N(μ, P Pᵀ + diag(softplus(d) + eps)) over the flattened C·H·W logits with a rank-r factor P. μ comes
from the main head; light GN-SiLU-conv heads give d and P. All three heads end in a zero-initialised conv, as in the
authors' code: at initialisation μ = 0, the diagonal is softplus(0) + eps = log 2 + eps and P = 0, so the factor is
exactly zero when it switches on after the mean-only epochs (docs/method.md §5) and grows from there. The backbone runs
once; the n samples are drawn in one batched reparameterised op: η_s = μ + P z₁ + √D z₂.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from uqseg.nn.base import AleatoricModel, check_n, random_annotator
from uqseg.nn.blocks import output_head
from uqseg.nn.config import ModelConfig
from uqseg.nn.unet import AttentionUNet


class SSNModel(AleatoricModel):
    """Low-rank Gaussian over logits with an MC-logsumexp loss and mean-only warm-up epochs."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.num_classes = cfg.num_classes
        self.in_channels = cfg.in_channels
        self.rank = cfg.ssn.rank
        self.eps = cfg.ssn.eps
        self.mc_samples = cfg.ssn.mc_samples
        self.mean_only_epochs = cfg.ssn.mean_only_epochs
        self.epoch: int | None = None
        self.unet = AttentionUNet(cfg, cfg.in_channels)
        width, groups = self.unet.out_channels, cfg.group_norm_groups
        self.mean_head = output_head(width, cfg.num_classes, groups)
        self.diag_head = output_head(width, cfg.num_classes, groups)
        self.factor_head = output_head(width, cfg.num_classes * self.rank, groups)

    def set_epoch(self, epoch: int) -> None:
        """The training epoch; P = 0 while it is below ``mean_only_epochs`` (docs/method.md §5)."""
        self.epoch = epoch

    @property
    def mean_only(self) -> bool:
        """True during the mean-only warm-up (only after ``set_epoch``; sampling always uses the full covariance)."""
        return self.epoch is not None and self.epoch < self.mean_only_epochs

    def distribution(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(μ B×C×H×W, diagonal variance B×C×H×W, factor P B×r×C×H×W) from one backbone pass."""
        features = self.unet(images)
        mean = self.mean_head(features)
        diag = F.softplus(self.diag_head(features)) + self.eps
        b, c, h, w = mean.shape
        factor = self.factor_head(features).reshape(b, self.rank, c, h, w)
        return mean, diag, factor

    def draw_logits(self, mean: Tensor, diag: Tensor, factor: Tensor | None, n: int) -> Tensor:
        """n reparameterised logit samples n×B×C×H×W in one batched op (P omitted when ``factor`` is None)."""
        noise = torch.randn((n, *mean.shape), device=mean.device, dtype=mean.dtype)
        logits = mean.unsqueeze(0) + diag.sqrt().unsqueeze(0) * noise
        if factor is not None:
            z = torch.randn((n, mean.shape[0], self.rank), device=mean.device, dtype=mean.dtype)
            logits = logits + torch.einsum("sbr,brchw->sbchw", z, factor)
        return logits

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """−mean_b[logsumexp_s Σ_pixels log softmax(η_s)[y] − log S], S = ``mc_samples`` (docs/method.md §5)."""
        images, annotations = self.check_batch(batch)
        target = random_annotator(annotations)
        mean, diag, factor = self.distribution(images)
        logits = self.draw_logits(mean, diag, None if self.mean_only else factor, self.mc_samples)
        s, b = logits.shape[:2]
        nll = F.cross_entropy(logits.flatten(0, 1), target.repeat(s, 1, 1), reduction="none")
        log_lik = -nll.reshape(s, b, -1).sum(-1)
        return -(torch.logsumexp(log_lik, dim=0) - math.log(s)).mean()

    def predict(self, images: Tensor) -> Tensor:
        """Softmax of μ."""
        return self.mean_head(self.unet(self.check_images(images))).softmax(1)

    def sample(self, images: Tensor, n: int) -> Tensor:
        """n samples softmax(η_s), n×B×C×H×W, from one backbone pass."""
        mean, diag, factor = self.distribution(self.check_images(images))
        return self.draw_logits(mean, diag, factor, check_n(n)).softmax(2)
