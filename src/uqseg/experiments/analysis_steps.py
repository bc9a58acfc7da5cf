"""Planning the open-question analyses of a study (docs/method.md "Open questions"): one step per combination and
analysis of the ``analyses`` key (``eu_rescaling``, ``au_eu_rank``).

Each step reads the predictions the combination's metrics step reads and writes its rows beside the metrics file
(``metrics/<dataset>/seed<s>/<au>+<eu>.<analysis>.parquet``). Its key holds the combination, the analysis and its
predictions' keys, so switching an analysis on adds only its own steps (and redoes the results and the report);
the study's training, prediction and metrics steps, and so its main rows, stay as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from uqseg.experiments import stepfns
from uqseg.experiments.config import BenchmarkConfig
from uqseg.experiments.dag import StepGraph
from uqseg.experiments.steps import Step, make_step
from uqseg.layout import RunLayout

ANALYSIS_COST = {"eu_rescaling": 5.0, "au_eu_rank": 1.0}
"""Cost of an analysis step relative to the metrics step it sits beside (the rescaling streams validation twice
and runs one evaluator per factor)."""


def analysis_steps(cfg: BenchmarkConfig, graph: StepGraph, data: Mapping[str, Step], metrics: Sequence[Step]
                   ) -> list[Step]:
    """Add to ``graph`` one step per study metrics step (``metrics``) and analysis of ``cfg.analyses``, depending on
    that metrics step's data step (``data``: dataset → step) and prediction steps; return them (their
    ``params["out"]`` join the results)."""
    relative = RunLayout.relative()
    steps = []
    for m in metrics:
        p = m.params
        combo = f"{p['dataset']}/seed{p['seed']}/{p['au']}+{p['eu']}"
        for analysis in cfg.analyses:
            out = relative.analysis_metrics(p["dataset"], p["seed"], p["au"], p["eu"], analysis).as_posix()
            steps.append(graph.add(make_step(
                f"analysis/{combo}/{analysis}", "analysis", stepfns.run_analysis,
                {"combo": combo, "analysis": analysis},
                [data[p["dataset"]], *(graph[d] for d in m.deps if d in graph)],
                params={**p, "analysis": analysis, "out": out}, outputs=(out,),
                cost=m.cost * ANALYSIS_COST[analysis])))
    return steps
