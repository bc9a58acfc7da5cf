"""The task rules of the entanglement Δ, written once (docs/method.md §2 task table, paper Eq. 2 and Table 1).

For each task: the metric Δ is computed on, the measure that should solve the task (``correct``), the measure(s)
that should not (``wrong``; several means their per-split minimum, the best-performing wrong measure for a
lower-is-better metric), whether higher metric values are better, and the split groups the task is scored on.
``metrics.entanglement.task_entanglement`` and the report's vectorised Δ and rank tables read this one table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from uqseg.vocabulary import Measure, SplitKind, Task

#: ACE variants the CAL rule accepts; the report picks one per dataset (docs/method.md §3 CAL).
ACE_VARIANTS = ("ace_global", "ace_image")


@dataclass(frozen=True)
class DeltaRule:
    """How Δ is taken for one task (docs/method.md §2)."""

    task: str
    metrics: tuple[str, ...]
    correct: str
    wrong: tuple[str, ...]
    higher_is_better: bool
    groups: tuple[str, ...]
    per_aggregation: bool = False

    @property
    def lower_is_better(self) -> bool:
        """True where a lower metric value is better (s = −1 in Eq. 2)."""
        return not self.higher_is_better

    def wrong_value(self, values: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The wrong measure's value from per-measure arrays, and where that is EU: the one wrong measure, or the
        elementwise minimum of several (NaN where any is NaN; AU on a tie)."""
        if len(self.wrong) == 1:
            value = values[self.wrong[0]]
            return value, np.full(np.shape(value), self.wrong[0] == Measure.EU)
        au, eu = values[Measure.AU.value], values[Measure.EU.value]
        eu_wins = eu < au
        value = np.where(eu_wins, eu, au)
        return np.where(np.isnan(au) | np.isnan(eu), np.nan, value), eu_wins


DELTA_RULES: dict[str, DeltaRule] = {
    Task.OODD.value: DeltaRule(Task.OODD.value, ("auroc",), Measure.EU.value, (Measure.AU.value,), True,
                               (SplitKind.OOD.value,), per_aggregation=True),
    Task.AMB.value: DeltaRule(Task.AMB.value, ("ncc",), Measure.AU.value, (Measure.EU.value,), True,
                              (SplitKind.ID.value, SplitKind.OOD.value)),
    Task.CAL.value: DeltaRule(Task.CAL.value, ACE_VARIANTS, Measure.TU.value, (Measure.AU.value, Measure.EU.value),
                              False, (SplitKind.ID.value, SplitKind.OOD.value)),
}

#: The measure that should solve each task (docs/method.md §2).
CORRECT_MEASURE = {task: rule.correct for task, rule in DELTA_RULES.items()}


def higher_is_better(task: str) -> bool:
    """Whether a higher value of the task's metric is better (AUROC, NCC) or lower (ACE) (docs/method.md §3)."""
    return DELTA_RULES[task].higher_is_better
