"""The worked example of docs/custom_model.md: a tiny UNet with a heteroscedastic logit head, registered as ``hetero``.

Importing this module registers the model, so it can be named in ``plugins`` (every step process imports it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uqseg.nn import AleatoricModel, ModelConfig, register_model
from uqseg.nn.base import check_n, random_annotator
from uqseg.nn.dropout import MCDropout2d


def conv_block(in_ch: int, out_ch: int, dropout: float) -> nn.Sequential:
    """3×3 conv, GroupNorm, SiLU, then MC dropout (p = ``dropout``; uqseg sets 0.2 for the dropout EU method)."""
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.GroupNorm(1, out_ch), nn.SiLU(),
                         MCDropout2d(out_ch, dropout))


class HeteroUNet(AleatoricModel):
    """Two-level UNet whose head predicts per-pixel logit means and log-variances; AU samples are the softmax of
    Gaussian logits (a heteroscedastic classifier)."""

    label = "Hetero UNet"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.num_classes, self.in_channels = cfg.num_classes, cfg.in_channels
        width = cfg.base_width
        self.down = conv_block(cfg.in_channels, width, cfg.dropout)
        self.bottom = conv_block(width, 2 * width, cfg.dropout)
        self.up = conv_block(3 * width, width, cfg.dropout)
        self.head = nn.Conv2d(width, 2 * cfg.num_classes, 1)

    def moments(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Logit mean and standard deviation, each B×C×H×W."""
        skip = self.down(self.check_images(images))
        deep = F.interpolate(self.bottom(F.avg_pool2d(skip, 2)), size=skip.shape[-2:], mode="nearest")
        mean, log_var = self.head(self.up(torch.cat([skip, deep], 1))).chunk(2, 1)
        return mean, (0.5 * log_var.clamp(-8, 4)).exp()

    def sample(self, images: Tensor, n: int) -> Tensor:
        """``n`` softmax maps of Gaussian logits, n×B×C×H×W."""
        mean, std = self.moments(images)
        noise = torch.randn((check_n(n), *mean.shape), device=mean.device, dtype=mean.dtype)
        return (mean + std * noise).softmax(2)

    def loss(self, batch: dict[str, Tensor]) -> Tensor:
        """Negative log of the 4-sample mean likelihood of one random annotator's labels."""
        images, annotations = self.check_batch(batch)
        probs = self.sample(images, 4).mean(0)
        return F.nll_loss(probs.clamp_min(1e-6).log(), random_annotator(annotations))


register_model("hetero", HeteroUNet)
