"""Epistemic (EU) methods (SPEC §6): each gives EU instances m = 0..M−1 of a trained AU model."""

from uqseg.epistemic.swag import SwagState, sample_weights

__all__ = ["SwagState", "sample_weights"]
