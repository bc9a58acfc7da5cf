"""Presets, the step DAG, executors (local, Ray) and the results table of ``uqseg benchmark``."""

from uqseg.experiments.combination import CombinationRun, run_combination

__all__ = ["CombinationRun", "run_combination"]
