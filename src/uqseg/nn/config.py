"""Configuration of the shared attention UNet and the four AU models (docs/method.md §4, §5; paper §3.3, A.2)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class SSNConfig(BaseModel):
    """Stochastic segmentation network (docs/method.md §5): low-rank logit Gaussian."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rank: int = Field(10, ge=1)
    eps: float = Field(1e-5, gt=0)
    mc_samples: int = Field(10, ge=1)
    mean_only_epochs: int = Field(10, ge=0)


class ProbUNetConfig(BaseModel):
    """Probabilistic UNet (docs/method.md §5): channel multipliers scaled by ``mult_scale``, β warm-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    latent_dim: int = Field(6, ge=1)
    mult_scale: float = Field(0.75, gt=0)
    beta: float = Field(5e-4, ge=0)
    beta_warmup_epochs: int = Field(32, ge=0)
    fcomb_width: int | None = Field(None, ge=1, description="Hidden width of fcomb; None = the decoder's width.")


class DiffusionConfig(BaseModel):
    """Continuous-time diffusion (docs/method.md §5): cosine schedule, input scaling, logSNR clip, DDIM steps."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    input_scale: float = Field(0.1, gt=0)
    logsnr_clip: float = Field(10.0, gt=0)
    sampling_steps: int = Field(10, ge=1)


class TTAConfig(BaseModel):
    """Test-time augmentation (docs/method.md, "TTA as an AU model"): the augmentation set drawn at test time, the
    one the network is trained with (``none`` as the authors' base networks), and the Gaussian noise's variance range
    (None: the set's own, [0, 0.01] weak and [0, 0.02] strong as on Chákṣu; the authors' LIDC uses [0.002, 0.02]
    with one field shared by all channels)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    augment: Literal["weak", "strong"] = "weak"
    train_augment: Literal["none", "weak", "strong"] = "none"
    noise_variance: tuple[float, float] | None = None
    noise_per_channel: bool = True

    @field_validator("noise_variance")
    @classmethod
    def _ordered_variance(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0.0 <= value[0] <= value[1]:
            raise ValueError("noise_variance must be [low, high] with 0 <= low <= high")
        return value


class ModelConfig(BaseModel):
    """The shared backbone (docs/method.md §4) and the per-model sub-configs.

    ``attention_levels`` counts levels from the input (0 = full resolution); negative values count from the deepest
    level, so the default ``(-2, -1)`` means "the two deepest levels" for any depth. The middle block has attention
    when the deepest level has. ``group_norm_groups`` is an upper bound: each GroupNorm uses the largest divisor of
    its channel count not above it (32 for the paper's widths; 8 for a width-8 test net). ``padding_mode`` is how
    every padded convolution fills the border: ``zeros`` as the authors; ``replicate`` keeps small, briefly trained
    nets from drawing an uncertainty frame along the image edge (docs/method.md §4 and its deviations).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    in_channels: int = Field(3, ge=1)
    num_classes: int = Field(2, ge=2)
    image_size: int = Field(128, ge=1)
    base_width: int = Field(32, ge=1)
    channel_mult: tuple[int, ...] = (1, 2, 4, 8)
    num_res_blocks: int = Field(2, ge=1)
    attention_levels: tuple[int, ...] = (-2, -1)
    num_heads: int = Field(4, ge=1)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    variant: Literal["code", "appendix"] = "code"
    group_norm_groups: int = Field(32, ge=1)
    padding_mode: Literal["zeros", "replicate", "reflect"] = "zeros"
    ssn: SSNConfig = SSNConfig()
    prob_unet: ProbUNetConfig = ProbUNetConfig()
    diffusion: DiffusionConfig = DiffusionConfig()
    tta: TTAConfig = TTAConfig()

    @field_validator("channel_mult")
    @classmethod
    def _positive_mults(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(m < 1 for m in value):
            raise ValueError("channel_mult must be a non-empty tuple of positive integers")
        return value

    @model_validator(mode="after")
    def _check_geometry(self) -> ModelConfig:
        depth = len(self.channel_mult)
        for level in self.attention_levels:
            if not -depth <= level < depth:
                raise ValueError(f"attention level {level} is outside the {depth} levels")
        if self.image_size % (2 ** (depth - 1)):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2**{depth - 1}")
        return self

    def resolved_attention_levels(self) -> frozenset[int]:
        """Attention levels as non-negative indices (docs/method.md §4: the two deepest by default)."""
        depth = len(self.channel_mult)
        return frozenset(level % depth for level in self.attention_levels)
