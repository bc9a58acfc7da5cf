"""The paper's tables and figures from a run directory as one HTML page (issue 7): `build_report(run_dir)`."""

from uqseg.report.build import build_report

__all__ = ["build_report"]
