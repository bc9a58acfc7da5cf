"""The terminal summary of a finished benchmark: where the report is and a short ranking table.

The ranking is derived from the results table alone: the ID-test Dice, and the final performance and entanglement
ranks of paper Table 2 (docs/method.md §3 "Ranking", ``uqseg.report.tables.rank_table``), averaged over seeds.
"""

from __future__ import annotations

import math

import pandas as pd
from rich.console import Console
from rich.table import Table

from uqseg.results import check_results, id_dice
from uqseg.vocabulary import KEYS

RANK_KINDS = ("performance", "entanglement")


def ranking_table(results: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and combination: ``dice`` (ID test, mean over seeds), ``performance_rank`` and
    ``entanglement_rank`` (final Table 2 ranks, 1 = best), best performance first."""
    from uqseg.report.tables import rank_table  # local: importing the report package loads matplotlib

    results = check_results(results)
    index = [KEYS[0], *KEYS[2:]]
    columns = {"dice": id_dice(results).groupby(index)["dice"].mean()}
    for kind in RANK_KINDS:
        ranks = rank_table(results, kind)
        columns[f"{kind}_rank"] = ranks[ranks.task == "final"].set_index(index)["rank"]
    table = pd.DataFrame(columns).rename_axis(index).reset_index()
    return table.sort_values(["dataset", "performance_rank", "au", "eu"], na_position="last").reset_index(drop=True)


def _cell(value: float, digits: int) -> str:
    return "—" if not math.isfinite(value) else f"{value:.{digits}f}"


def print_summary(ranking: pd.DataFrame, *, results: str, report: str | None, console: Console) -> None:
    """Print one ranking table per dataset, then where the results and the report are."""
    for dataset, rows in ranking.groupby("dataset", sort=True):
        table = Table(title=f"{dataset}: ranks (1 = best)", title_justify="left")
        for name in ("combination", "ID Dice", "performance rank", "entanglement rank"):
            table.add_column(name, justify="left" if name == "combination" else "right")
        for row in rows.itertuples():
            table.add_row(f"{row.au}+{row.eu}", _cell(row.dice, 3), _cell(row.performance_rank, 1),
                          _cell(row.entanglement_rank, 1))
        console.print(table)
    console.print(f"results: {results}", highlight=False, soft_wrap=True)
    if report is not None:
        console.print(f"report: {report}", highlight=False, soft_wrap=True)
