"""Inference layer: streamed TU/AU/EU prediction of a combination per split, and its evaluation (issue 5)."""

from uqseg.inference.config import InferenceConfig

__all__ = ["InferenceConfig"]
