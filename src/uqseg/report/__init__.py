"""The paper's tables and figures from a run directory as one HTML page: `build_report(run_dir)`."""

from uqseg.report.build import build_report

__all__ = ["build_report"]
