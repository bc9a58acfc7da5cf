"""Tiny nets, toy batches and a training loop for the nn tests (width 8, 16×16); the generic model tests run on
every AU model, TTA included."""

from __future__ import annotations

import torch

from uqseg.nn import ModelConfig

AU_MODELS = ("softmax", "ssn", "prob_unet", "diffusion", "tta")


def tiny_config(**overrides) -> ModelConfig:
    """A two-level width-8 net on 16×16 images with attention at the deeper level."""
    values = dict(
        in_channels=3, num_classes=2, image_size=16, base_width=8, channel_mult=(1, 2), num_res_blocks=1, num_heads=2
    )
    values.update(overrides)
    return ModelConfig(**values)


def toy_batch(batch: int = 2, annotators: int = 3, size: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random images with a disc-like foreground annotated (with small differences) by K annotators."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, size, size, generator=gen)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    radius = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2).sqrt()
    annotations = torch.stack(
        [torch.stack([(radius < size / 4 + k).long() for k in range(annotators)]) for _ in range(batch)]
    )
    return {"image": images, "annotations": annotations}


def ambiguity_batch(size: int = 8) -> dict[str, torch.Tensor]:
    """Two images with two annotators each: image 0 unambiguous (both mark the same square), image 1 ambiguous
    (one marks the square, the other marks nothing). Both images show the square, in a different channel."""
    square = torch.zeros(size, size, dtype=torch.long)
    square[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    images = torch.zeros(2, 3, size, size)
    images[0, 0] = square
    images[1, 1] = square
    annotations = torch.stack([torch.stack([square, square]), torch.stack([square, torch.zeros_like(square)])])
    return {"image": images, "annotations": annotations}


def train_steps(model: torch.nn.Module, batch: dict[str, torch.Tensor], steps: int, lr: float = 1e-2) -> float:
    """``steps`` Adam steps on one batch; returns the last loss."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        opt.zero_grad()
        loss = model.loss(batch)
        loss.backward()
        opt.step()
    return float(loss.detach())


def dice(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Foreground Dice of two binary maps."""
    inter = (pred * target).sum()
    return float(2 * inter / (pred.sum() + target.sum()).clamp_min(1))
