"""Inference settings (docs/method.md §1 sample counts, §6 instance counts; GPU precision)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from uqseg.errors import ConfigError


class InferenceConfig(BaseModel):
    """How many AU samples and EU instances to draw, in what batches, and where.

    - ``samples`` S AU samples per EU instance; softmax always uses S = 1 (deterministic, docs/method.md §1).
    - ``instances`` M for dropout and SWAG/SWAG-D; an ensemble has ``ensemble_size`` members; No-EU has one.
    - ``instance_group``: how many EU instances are evaluated together (batched path).
    - ``stored_sample_images``: the first k images of a split keep their AU samples for qualitative panels.
    - ``network_precision``: ``bf16`` runs the network under bf16 autocast on CUDA (ignored on CPU); the
      decomposition always accumulates in float32 or wider.
    - ``channels_last``: feed the images to the network in channels_last memory format; the convolutions follow it
      (faster on CPU for small channel counts, docs/performance.md); same results.
    - ``discretize``: turn every AU sample into the one-hot map of its argmax before the decomposition (the
      ablation of paper appendix A.3, docs/method.md §1); off by default, as in the paper.
    - ``seed``: predictions are a deterministic function of the config (seed, batch sizes included).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    samples: int = Field(10, ge=1)
    instances: int = Field(10, ge=1)
    ensemble_size: int = Field(5, ge=1)
    batch_size: int = Field(8, ge=1)
    instance_group: int = Field(5, ge=1)
    swag_scale: float = Field(1.0, ge=0)
    stored_sample_images: int = Field(4, ge=0)
    network_precision: Literal["32", "bf16"] = "32"
    device: str = "cpu"
    batched: bool = True
    channels_last: bool = False
    discretize: bool = False
    seed: int = Field(0, ge=0)

    def samples_for(self, au: str) -> int:
        """S for AU model ``au``: 1 for softmax (docs/method.md §1), else ``samples``."""
        return 1 if au == "softmax" else self.samples


def make_inference_config(**values: object) -> InferenceConfig:
    """Build an InferenceConfig, turning pydantic's validation error into a ConfigError naming the bad fields."""
    from pydantic import ValidationError

    try:
        return InferenceConfig(**values)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'inference'}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"invalid inference config: {problems}") from None
