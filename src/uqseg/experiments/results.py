"""The benchmark's results table lives in ``uqseg.results`` (a stored artefact the report reads without the
experiments layer); this module keeps the experiments layer's name for it."""

from uqseg.results import (
    RESULT_COLUMNS,
    check_results,
    check_statuses,
    combine_metrics,
    combine_replicates,
    id_dice,
    load_replicates,
    load_results,
    replicate_columns,
    replicate_matrix,
    sort_results,
    with_intervals,
    write_results,
)

__all__ = ["RESULT_COLUMNS", "check_results", "check_statuses", "combine_metrics", "combine_replicates", "id_dice",
           "load_replicates", "load_results", "replicate_columns", "replicate_matrix", "sort_results",
           "with_intervals", "write_results"]
