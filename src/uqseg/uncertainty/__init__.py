"""Uncertainty decomposition TU/AU/EU (docs/method.md §1)."""

from uqseg.uncertainty.accumulator import UncertaintyAccumulator
from uqseg.uncertainty.maps import EU_CLIP_TOL, UncertaintyMaps, decompose, discretize, entropy

__all__ = ["EU_CLIP_TOL", "UncertaintyAccumulator", "UncertaintyMaps", "decompose", "discretize", "entropy"]
