"""Metrics for the downstream tasks AMB, CAL, OODD, segmentation quality, and entanglement Δ (docs/method.md §2–§3).

Every metric takes the reference (annotations, correctness) first and the model's output second, like
scikit-learn's ``(y_true, y_pred)``; docs/library.md walks through them on a user's own arrays.
"""

from uqseg.metrics.aggregation import STRATEGIES, aggregate
from uqseg.metrics.ambiguity import annotator_variance, ncc
from uqseg.metrics.batch import EvalBatch
from uqseg.metrics.calibration import UncertaintyHistogram, ace, fit_platt, pixel_correctness, platt_confidence
from uqseg.metrics.entanglement import entanglement, task_entanglement
from uqseg.metrics.evaluator import Evaluator
from uqseg.metrics.ood import auroc
from uqseg.metrics.ranking import mean_rank_with_ci, rank_with_ties
from uqseg.metrics.segmentation import dice, ged, instance_ged

__all__ = [
    "STRATEGIES", "EvalBatch", "Evaluator", "UncertaintyHistogram", "ace", "aggregate", "annotator_variance",
    "auroc", "dice", "entanglement", "fit_platt", "ged", "instance_ged", "mean_rank_with_ci", "ncc",
    "pixel_correctness", "platt_confidence", "rank_with_ties", "task_entanglement",
]
