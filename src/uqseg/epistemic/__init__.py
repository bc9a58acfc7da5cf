"""Epistemic (EU) methods (docs/method.md §6): each gives EU instances m = 0..M−1 of a trained AU model."""

from uqseg.epistemic.base import EpistemicMethod, instance_seed
from uqseg.epistemic.factory import build_method
from uqseg.epistemic.swag import SwagMethod, SwagState, sample_weights

__all__ = ["EpistemicMethod", "SwagMethod", "SwagState", "build_method", "instance_seed",
           "sample_weights"]
