"""Training layer (docs/method.md §6 shared runs, §7 defaults): planning, training, EMA, SWAG, checkpoints."""

from uqseg.training.config import TrainConfig
from uqseg.training.plan import TrainingRun, plan_training_runs, run_directory, runs_for_combination

__all__ = ["TrainConfig", "TrainingRun", "plan_training_runs", "run_directory", "runs_for_combination"]
