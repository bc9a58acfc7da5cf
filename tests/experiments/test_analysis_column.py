"""The results table's ``analysis`` column: ``main`` for the study's rows and for files written before it; the
report's tables, ranks and Δ read the main rows alone (docs/conventions.md "Tidy results")."""

import numpy as np
import pandas as pd
import pytest

from uqseg.errors import InputError
from uqseg.report.frames import collapse_table
from uqseg.report.tables import delta_table, rank_table
from uqseg.results import (
    RESULT_COLUMNS,
    analysis_view,
    id_dice,
    load_replicates,
    load_results,
    with_intervals,
    write_results,
)
from uqseg.vocabulary import check_results, main_rows

ROW = ["dataset", "seed", "au", "eu", "split", "task", "measure", "metric", "aggregation"]


def _rows(au: str, eu: str, offset: float = 0.0) -> pd.DataFrame:
    """AMB NCC per measure on the ID test and one OOD split, an OODD AUROC per measure, a Dice: enough for Δ."""
    rows = []
    for split in ("test", "ood"):
        for measure, ncc in (("TU", 0.5), ("AU", 0.6), ("EU", 0.2)):
            rows.append(("d", 0, au, eu, split, "AMB", measure, "ncc", "none", ncc + offset, "ok"))
    for measure, auroc in (("TU", 0.6), ("AU", 0.55), ("EU", 0.7)):
        rows.append(("d", 0, au, eu, "ood", "OODD", measure, "auroc", "border", auroc + offset, "ok"))
    rows.append(("d", 0, au, eu, "ood", "COLLAPSE", "EU/AU", "eu_au_ratio", "border", 0.01, "ok"))
    rows.append(("d", 0, au, eu, "test", "SEG", "pred", "dice", "none", 0.8, "ok"))
    return pd.DataFrame(rows, columns=[*ROW, "value", "status"])


def _study() -> pd.DataFrame:
    return pd.concat([_rows("ssn", "dropout"), _rows("softmax", "ensemble", 0.05)], ignore_index=True)


def test_a_table_without_the_column_reads_as_main_and_keeps_a_given_one():
    out = check_results(_study())
    assert list(out.columns) == list(RESULT_COLUMNS)
    assert RESULT_COLUMNS.index("analysis") == 4 and set(out.analysis) == {"main"}
    tagged = check_results(_study().assign(analysis="au_eu_rank"))
    assert set(tagged.analysis) == {"au_eu_rank"}


def test_old_results_and_replicates_without_the_column_load_as_main(tmp_path):
    old = _study()
    old.to_parquet(tmp_path / "results.parquet", index=False)
    old.to_csv(tmp_path / "results.csv", index=False)
    reps = pd.concat([old.loc[::-1, ROW].reset_index(drop=True),
                      pd.DataFrame(np.tile(np.arange(101, dtype=np.float32), (len(old), 1)),
                                   columns=[f"b{i}" for i in range(101)])], axis=1)
    reps.to_parquet(tmp_path / "bootstrap.parquet", index=False)
    for source in (tmp_path, tmp_path / "results.csv"):
        assert set(load_results(source).analysis) == {"main"}
    table = with_intervals(load_results(tmp_path), load_replicates(tmp_path))
    assert np.allclose(table.ci_low, 2.5) and np.allclose(table.ci_high, 97.5)  # old replicates still align
    write_results(table, tmp_path, replicates=load_replicates(tmp_path))
    assert set(pd.read_parquet(tmp_path / "results.parquet").analysis) == {"main"}
    assert set(pd.read_parquet(tmp_path / "bootstrap.parquet").analysis) == {"main"}


def _with_analyses(study: pd.DataFrame) -> pd.DataFrame:
    """The study plus rescaled rows (TU and EU changed, keyed like main rows) and rank-correlation rows."""
    rescaled = study[study.measure.isin(["TU", "EU"])].assign(analysis="eu_rescaled:mean_ratio")
    rescaled = rescaled.assign(value=np.where(rescaled.measure == "EU", 0.65, 0.3))
    rank = study.iloc[:2].assign(analysis="au_eu_rank", task="RANKCORR", measure="AU~EU", metric="spearman",
                                 aggregation="pixel", value=0.9)
    return pd.concat([study.assign(analysis="main"), rescaled, rank], ignore_index=True)


def test_report_tables_ranks_and_delta_read_only_the_main_rows():
    study = _study()
    full = _with_analyses(study)
    pd.testing.assert_frame_equal(delta_table(full), delta_table(study))
    pd.testing.assert_frame_equal(rank_table(full, "entanglement"), rank_table(study, "entanglement"))
    pd.testing.assert_frame_equal(collapse_table(full), collapse_table(study))
    pd.testing.assert_frame_equal(id_dice(full), id_dice(study))
    assert len(main_rows(full)) == len(study)


def test_an_analysis_view_puts_its_rows_in_place_of_the_main_rows():
    full = _with_analyses(_study())
    view = analysis_view(full, "eu_rescaled:mean_ratio")
    assert len(view) == len(_study())  # the rescaled rows replace main rows one for one
    amb_eu = view[(view.task == "AMB") & (view.measure == "EU")]
    assert set(amb_eu.analysis) == {"eu_rescaled:mean_ratio"} and np.allclose(amb_eu.value, 0.65)
    assert set(view[view.measure == "AU"].analysis) == {"main"}
    before = delta_table(full).set_index(["au", "task", "group"]).delta
    after = delta_table(full, analysis="eu_rescaled:mean_ratio").set_index(["au", "task", "group"]).delta
    # AMB: AU NCC 0.6 correct, EU NCC wrong; rescaling moved EU's NCC from 0.2 to 0.65 above AU's, so Δ turns negative
    assert before[("ssn", "AMB", "ID")] > 0 > after[("ssn", "AMB", "ID")]
    with pytest.raises(InputError, match="no rows of analysis 'other'"):
        analysis_view(full, "other")
