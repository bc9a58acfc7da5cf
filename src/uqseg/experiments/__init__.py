"""Presets, the step DAG, executors (local, Ray) and the results table of ``uqseg benchmark``."""
