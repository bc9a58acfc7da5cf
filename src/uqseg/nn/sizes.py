"""Parameter counts of the four AU models for a given backbone config (docs/method.md §4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from pydantic import ValidationError

from uqseg.errors import ConfigError
from uqseg.nn import MODELS, build_model
from uqseg.nn.config import ModelConfig

PAPER_MILLIONS = {"softmax": 15.78, "ssn": 15.80, "prob_unet": 16.89, "diffusion": 15.81, "tta": 15.78}
"""The paper's parameter counts (§3.3) at its config: 128×128, base 32, mult (1, 2, 4, 8), 2 classes, 3 channels
(TTA, not in the paper, is the softmax network)."""


def make_config(values: Mapping[str, Any]) -> ModelConfig:
    """``ModelConfig(**values)``; an invalid field is a ConfigError naming the key and the problem."""
    try:
        return ModelConfig(**dict(values))
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'model'}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"invalid model config: {problems}") from None


def parameter_counts(cfg: ModelConfig) -> dict[str, int]:
    """Learnable parameters of each AU model (built on the meta device: no memory, no init cost)."""
    with torch.device("meta"):
        return {name: build_model(name, cfg).num_parameters() for name in MODELS}


def size_table(cfg: ModelConfig) -> str:
    """A plain-text table of each AU model's parameter count; the paper's column when ``cfg`` is its config."""
    counts = parameter_counts(cfg)
    paper = cfg == ModelConfig()
    header = f"{'AU model':<10} {'parameters':>12} {'millions':>9}"
    lines = [header + (f" {'paper (M)':>10} {'diff':>7}" if paper else "")]
    for name, count in counts.items():
        line = f"{name:<10} {count:>12,} {count / 1e6:>9.2f}"
        if paper:
            line += f" {PAPER_MILLIONS[name]:>10.2f} {count / (PAPER_MILLIONS[name] * 1e6) - 1:>+7.1%}"
        lines.append(line)
    if paper:
        lines.append("(the paper's softmax, SSN and Prob. UNet nets carry unused time-embedding layers; see "
                     "docs/architecture.md, Model sizes)")
    attention = ", ".join(str(level) for level in sorted(cfg.resolved_attention_levels()))
    lines.append(
        f"config: {cfg.image_size}×{cfg.image_size}, base {cfg.base_width}, mult {cfg.channel_mult}, "
        f"{cfg.num_res_blocks} ResBlocks/level, attention at levels {{{attention}}}, {cfg.num_heads} heads, "
        f"{cfg.num_classes} classes, {cfg.in_channels} input channels, variant {cfg.variant}"
    )
    return "\n".join(lines)
