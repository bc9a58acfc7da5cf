"""The shared attention UNet backbone (docs/method.md §4; paper §3.3, appendix A.2).

Variant "code" (default, matches the paper's parameter counts): stride-2 conv downsampling and concatenated skips,
channels change in the first ResBlock of each level. Variant "appendix" (the appendix text): average-pool
downsampling and additive skips; channels change in the down/upsampling layers so that skips and features align.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from uqseg.nn.blocks import AttentionBlock, Downsample, ResBlock, Stage, Upsample, timestep_embedding
from uqseg.nn.config import ModelConfig


class _Layout:
    """Widths, attention levels and block settings shared by the encoder, middle and decoder."""

    def __init__(self, cfg: ModelConfig, channel_mult: tuple[int, ...], time_embedding: bool) -> None:
        self.widths = [cfg.base_width * m for m in channel_mult]
        self.attention = {level % len(channel_mult) for level in cfg.attention_levels}
        self.blocks = cfg.num_res_blocks
        self.heads = cfg.num_heads
        self.groups = cfg.group_norm_groups
        self.dropout = cfg.dropout
        self.variant = cfg.variant
        self.emb_dim = 4 * cfg.base_width if time_embedding else None

    def stage(self, in_ch: int, out_ch: int, level: int) -> Stage:
        res = ResBlock(in_ch, out_ch, self.emb_dim, self.dropout, self.groups)
        attention = AttentionBlock(out_ch, self.heads, self.groups) if level in self.attention else None
        return Stage(res, attention)


class UNetEncoder(nn.Module):
    """Input conv, then per level ``num_res_blocks`` stages and a downsample; every block output is a skip."""

    def __init__(self, layout: _Layout, in_channels: int) -> None:
        super().__init__()
        widths = layout.widths
        self.input_conv = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.layers = nn.ModuleList()
        ch = widths[0]
        self.skip_channels = [ch]
        for level, width in enumerate(widths):
            for _ in range(layout.blocks):
                self.layers.append(layout.stage(ch if layout.variant == "code" else width, width, level))
                ch = width
                self.skip_channels.append(ch)
            if level < len(widths) - 1:
                out = ch if layout.variant == "code" else widths[level + 1]
                self.layers.append(Downsample(ch, out, layout.variant))
                ch = out
                self.skip_channels.append(ch)
        self.out_channels = ch

    def forward(self, x: Tensor, emb: Tensor | None) -> tuple[Tensor, list[Tensor]]:
        h = self.input_conv(x)
        skips = [h]
        for layer in self.layers:
            h = layer(h, emb) if isinstance(layer, Stage) else layer(h)
            skips.append(h)
        return h, skips


class UNetMiddle(nn.Module):
    """Two ResBlocks with attention between them when the deepest level has attention (docs/method.md §4)."""

    def __init__(self, layout: _Layout, channels: int) -> None:
        super().__init__()
        deepest = len(layout.widths) - 1
        self.first = ResBlock(channels, channels, layout.emb_dim, layout.dropout, layout.groups)
        self.attention = AttentionBlock(channels, layout.heads, layout.groups) if deepest in layout.attention else None
        self.second = ResBlock(channels, channels, layout.emb_dim, layout.dropout, layout.groups)

    def forward(self, h: Tensor, emb: Tensor | None) -> Tensor:
        h = self.first(h, emb)
        if self.attention is not None:
            h = self.attention(h)
        return self.second(h, emb)


class UNetDecoder(nn.Module):
    """Per level ``num_res_blocks + 1`` stages fed with skips (concatenated or added), then nearest ×2 + conv."""

    def __init__(self, layout: _Layout, channels: int, skip_channels: list[int]) -> None:
        super().__init__()
        self.concat = layout.variant == "code"
        skips = list(skip_channels)
        widths = layout.widths
        self.layers = nn.ModuleList()
        ch = channels
        for level in reversed(range(len(widths))):
            width = widths[level]
            for i in range(layout.blocks + 1):
                skip = skips.pop()
                self.layers.append(layout.stage(ch + skip if self.concat else ch, width, level))
                ch = width
                if level > 0 and i == layout.blocks:
                    out = ch if self.concat else widths[level - 1]
                    self.layers.append(Upsample(ch, out))
                    ch = out
        self.out_channels = ch

    def forward(self, h: Tensor, skips: list[Tensor], emb: Tensor | None) -> Tensor:
        skips = list(skips)
        for layer in self.layers:
            if isinstance(layer, Stage):
                skip = skips.pop()
                h = layer(torch.cat([h, skip], dim=1) if self.concat else h + skip, emb)
            else:
                h = layer(h)
        return h


class AttentionUNet(nn.Module):
    """The shared backbone: features B×W×H×W (W = base_width·channel_mult[0]) for the models' heads (docs/method.md §4).

    With ``time_embedding`` a sinusoidal embedding of t and an MLP (base → 4·base → 4·base) is added in every
    ResBlock (diffusion, docs/method.md §5).
    """

    def __init__(
        self,
        cfg: ModelConfig,
        in_channels: int,
        channel_mult: tuple[int, ...] | None = None,
        time_embedding: bool = False,
    ) -> None:
        super().__init__()
        layout = _Layout(cfg, channel_mult or cfg.channel_mult, time_embedding)
        self.base_width = cfg.base_width
        self.time_embed = (
            nn.Sequential(
                nn.Linear(cfg.base_width, layout.emb_dim), nn.SiLU(), nn.Linear(layout.emb_dim, layout.emb_dim)
            )
            if layout.emb_dim
            else None
        )
        self.encoder = UNetEncoder(layout, in_channels)
        self.middle = UNetMiddle(layout, self.encoder.out_channels)
        self.decoder = UNetDecoder(layout, self.encoder.out_channels, self.encoder.skip_channels)
        self.out_channels = self.decoder.out_channels

    def embed(self, t: Tensor | None) -> Tensor | None:
        """The time embedding of t ∈ [0, 1] (B,), or None for nets without one."""
        if self.time_embed is None:
            return None
        return self.time_embed(timestep_embedding(t, self.base_width))

    def forward(self, x: Tensor, t: Tensor | None = None) -> Tensor:
        emb = self.embed(t)
        h, skips = self.encoder(x, emb)
        return self.decoder(self.middle(h, emb), skips, emb)


class AttentionEncoder(nn.Module):
    """Encoder-only net: the backbone's input conv, encoder levels and middle block (Prob. UNet prior/posterior)."""

    def __init__(self, cfg: ModelConfig, in_channels: int, channel_mult: tuple[int, ...] | None = None) -> None:
        super().__init__()
        layout = _Layout(cfg, channel_mult or cfg.channel_mult, time_embedding=False)
        self.encoder = UNetEncoder(layout, in_channels)
        self.middle = UNetMiddle(layout, self.encoder.out_channels)
        self.out_channels = self.encoder.out_channels

    def forward(self, x: Tensor) -> Tensor:
        h, _ = self.encoder(x, None)
        return self.middle(h, None)
