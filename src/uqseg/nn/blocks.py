"""Building blocks of the shared attention UNet (docs/method.md §4; paper appendix A.2)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from uqseg.errors import ConfigError
from uqseg.nn.dropout import MCDropout2d


def group_norm(channels: int, max_groups: int = 32) -> nn.GroupNorm:
    """GroupNorm with the largest divisor of ``channels`` not above ``max_groups`` groups (32 in the paper)."""
    groups = max(g for g in range(1, min(max_groups, channels) + 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


def zero_init(module: nn.Module) -> nn.Module:
    """Zero every parameter of ``module`` (the last conv of ResBlocks, attention and heads; docs/method.md §4)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10.0) -> Tensor:
    """Sinusoidal embedding (B, dim) of continuous times t ∈ [0, 1] (docs/method.md §5, diffusion).

    As in the authors' code: t enters unscaled and the frequencies are f_i = max_period^(−i/half), i < half = dim // 2,
    so the embedding is [cos(t·f_i), sin(t·f_i)] (a zero column pads an odd ``dim``); with max_period = 10 the
    arguments stay in [0, 1].
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


class ResBlock(nn.Module):
    """GN → SiLU → conv3×3 → [+ time embedding] → GN → SiLU → [Dropout2d] → conv3×3 (zero-init), plus a residual
    (1×1 conv where channels change). docs/method.md §4."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int | None, dropout: float, groups: int) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(group_norm(in_ch, groups), nn.SiLU(), nn.Conv2d(in_ch, out_ch, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_ch)) if emb_dim else None
        self.out_layers = nn.Sequential(
            group_norm(out_ch, groups),
            nn.SiLU(),
            MCDropout2d(out_ch, dropout),
            zero_init(nn.Conv2d(out_ch, out_ch, 3, padding=1)),
        )
        self.skip = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        h = self.in_layers(x)
        if self.emb_layers is not None:
            if emb is None:
                raise ConfigError("this ResBlock needs a time embedding")
            h = h + self.emb_layers(emb)[:, :, None, None]
        return self.skip(x) + self.out_layers(h)


class AttentionBlock(nn.Module):
    """Multi-head self-attention over pixels with a residual and a zero-init output projection (docs/method.md §4)."""

    def __init__(self, channels: int, num_heads: int, groups: int) -> None:
        super().__init__()
        if channels % num_heads:
            raise ConfigError(f"{channels} channels do not split into {num_heads} attention heads")
        self.num_heads = num_heads
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Conv1d(channels, 3 * channels, 1)
        self.proj_out = zero_init(nn.Conv1d(channels, channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        flat = x.reshape(b, c, h * w)
        q, k, v = self.qkv(self.norm(flat)).reshape(b, 3, self.num_heads, c // self.num_heads, h * w).unbind(1)
        q, k, v = (t.transpose(-1, -2).contiguous() for t in (q, k, v))  # contiguous: CPU takes its flash kernel
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(-1, -2).reshape(b, c, h * w)
        return (flat + self.proj_out(out)).reshape(b, c, h, w)


class Downsample(nn.Module):
    """Stride-2 3×3 conv ("code") or 2×2 average pool with a 1×1 conv where channels change ("appendix")."""

    def __init__(self, in_ch: int, out_ch: int, variant: str) -> None:
        super().__init__()
        if variant == "code":
            self.op: nn.Module = nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1)
        else:
            mapper = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)
            self.op = nn.Sequential(nn.AvgPool2d(2), mapper)

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class Upsample(nn.Module):
    """Nearest ×2 then a 3×3 conv (docs/method.md §4); the conv also maps channels in the "appendix" variant."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Stage(nn.Module):
    """A ResBlock optionally followed by self-attention (one UNet stage, docs/method.md §4)."""

    def __init__(self, res: ResBlock, attention: AttentionBlock | None) -> None:
        super().__init__()
        self.res = res
        self.attention = attention

    def forward(self, x: Tensor, emb: Tensor | None) -> Tensor:
        x = self.res(x, emb)
        return x if self.attention is None else self.attention(x)


def output_head(channels: int, out_ch: int, groups: int) -> nn.Sequential:
    """GN → SiLU → conv3×3 with the conv zero-initialised (docs/method.md §4 output head; also SSN's covariance heads,
    as in the authors' code, so SSN's low-rank factor is exactly 0 when it switches on after the mean-only epochs)."""
    return nn.Sequential(group_norm(channels, groups), nn.SiLU(), zero_init(nn.Conv2d(channels, out_ch, 3, padding=1)))
