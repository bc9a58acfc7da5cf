"""Inference layer: streamed TU/AU/EU prediction of a combination per split, and its evaluation."""

from uqseg.inference.config import InferenceConfig

__all__ = ["InferenceConfig"]
