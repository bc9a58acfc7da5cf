"""The report's open-question sections (docs/method.md "Open questions"): Δ before and after EU rescaling and the
AU–EU rank correlation next to Δ, from hand-made result rows."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_run import fake_replicates, fake_results, write_fake_run

from uqseg.report import build_report
from uqseg.report.analyses import (
    analysis_sections,
    ordering_correlation,
    rank_table,
    rank_vs_delta,
    rescaling_reading,
    rescaling_table,
)
from uqseg.report.tables import delta_table
from uqseg.report.writer import Writer

LABEL = "eu_rescaled:mean_ratio"
SPLITS = ("test", "ood-noise", "ood-blur", "ood-contrast", "ood-jpeg")


def _main() -> pd.DataFrame:
    return fake_results(seeds=(0,), datasets=("fake-lidc",)).assign(analysis="main")


def _with_rescaled(main: pd.DataFrame, tu_ace_scale: float, skip: tuple[str, str] = ("ssn", "none")
                   ) -> pd.DataFrame:
    """Rescaled TU and EU rows: EU's as the main ones (scale-free metrics), TU's ACE times ``tu_ace_scale``; a factor
    row f = 10 per combination, NaN for ``skip`` (no rescaled rows, as when EU is 0 on validation)."""
    rows = main[main.measure.isin(["TU", "EU"]) & (main.au + main.eu != "".join(skip))].assign(analysis=LABEL)
    tu_ace = (rows.measure == "TU") & (rows.task == "CAL")
    rows.loc[tu_ace, "value"] *= tu_ace_scale
    combos = main.loc[:, ["dataset", "seed", "au", "eu"]].drop_duplicates()
    factor = combos.assign(analysis=LABEL, split="val", task="RESCALE", measure="EU", metric="eu_factor",
                           aggregation="none", value=10.0, status="ok")
    lost = (factor.au == skip[0]) & (factor.eu == skip[1])
    factor.loc[lost, "value"] = np.nan
    factor.loc[lost, "status"] = "undefined: EU is 0 on every validation pixel"
    return pd.concat([main, rows, factor], ignore_index=True)


def _with_rank(main: pd.DataFrame) -> pd.DataFrame:
    """au_eu_rank rows: ρ = −(ID-test CAL Δ of the combination) on the test split, and ρ = 0.1·i on the i-th OOD
    split, so the ordering by ρ is the reverse of the ordering by CAL Δ."""
    cal = delta_table(main)
    cal = cal[(cal.task == "CAL") & (cal.group == "ID")]
    rows = []
    for r in cal.itertuples():
        for i, split in enumerate(SPLITS):
            for agg in ("pixel", "pixel_image", "image"):
                rho = -r.delta if split == "test" else 0.1 * i
                rows.append((r.dataset, r.seed, r.au, r.eu, "au_eu_rank", split, "RANKCORR", "AU~EU", "spearman",
                             agg, rho, "ok"))
    columns = ["dataset", "seed", "au", "eu", "analysis", "split", "task", "measure", "metric", "aggregation", "value",
               "status"]
    return pd.concat([main, pd.DataFrame(rows, columns=columns)], ignore_index=True)


def _replicates(results: pd.DataFrame) -> pd.DataFrame:
    """``fake_replicates`` keyed by the analysis too."""
    return fake_replicates(results).assign(analysis=results.analysis.to_numpy())


def test_rescaling_table_matches_a_hand_computed_delta() -> None:
    main = _main()
    table = rescaling_table(_with_rescaled(main, 0.5))
    assert set(table.factor) == {"mean_ratio"} and (table.f == 10.0).all()
    assert not ((table.au == "ssn") & (table.eu == "none")).any()  # its factor could not be fitted
    fixed = table[table.task.isin(["OODD", "AMB"])]
    np.testing.assert_allclose(fixed.delta, fixed.delta_main)  # EU's AUROC and NCC ignore the scale
    row = table[(table.au == "ssn") & (table.eu == "dropout") & (table.task == "CAL") & (table.group == "ID")]
    ace = main[(main.au == "ssn") & (main.eu == "dropout") & (main.split == "test") & (main.metric == "ace_global")]
    ace = ace.set_index("measure").value
    c, w = 0.5 * ace["TU"], min(ace["AU"], ace["EU"])
    assert row.delta.iloc[0] == pytest.approx(-(np.arctan2(c, w) - np.pi / 4) / (np.pi / 4))
    assert row.performance.iloc[0] == pytest.approx(c) and row.performance_main.iloc[0] == pytest.approx(ace["TU"])


def test_rescaling_reading_says_plainly_whether_entanglement_falls() -> None:
    main = _main()
    better, worse = rescaling_table(_with_rescaled(main, 0.5)), rescaling_table(_with_rescaled(main, 2.0))
    same = rescaling_table(_with_rescaled(main, 1.0))
    assert "rescaling reduces entanglement on fake-lidc" in rescaling_reading(better)
    assert "rescaling increases entanglement on fake-lidc" in rescaling_reading(worse)
    assert "rescaling does not change entanglement on fake-lidc" in rescaling_reading(same)
    assert "No rescaled rows" in rescaling_reading(rescaling_table(main))


def test_rank_table_groups_and_the_ordering_correlation() -> None:
    results = _with_rank(_main())
    ranks = rank_table(results)
    ood = ranks[(ranks.group == "OOD") & (ranks.aggregation == "pixel")]
    np.testing.assert_allclose(ood.rho, np.mean([0.1, 0.2, 0.3, 0.4]))
    paired = rank_vs_delta(ranks, delta_table(results))
    assert set(paired.task) == {"OODD", "AMB", "CAL"} and len(paired) == 3 * 19
    orderings = ordering_correlation(paired).set_index("task")
    assert orderings.loc["CAL", "spearman"] == pytest.approx(-1.0)
    assert orderings.loc["CAL", "combinations"] == 19


def test_analysis_sections_one_per_analysis_with_figure_table_and_reading(tmp_path: Path) -> None:
    class Recording(Writer):
        """The report's writer, keeping every table it writes."""

        def __init__(self) -> None:
            super().__init__(tmp_path)
            self.tables: dict[str, pd.DataFrame] = {}

        def table(self, df: pd.DataFrame, name: str) -> tuple[str, str]:
            self.tables[name] = df
            return super().table(df, name)

    main = _main()
    results = _with_rank(_with_rescaled(main, 0.5))
    w = Recording()
    sections = analysis_sections(w, results, _replicates(results))
    assert [s.anchor for s in sections] == ["eu-rescaling", "au-eu-rank"]
    assert "reduces entanglement" in sections[0].blocks[1] and "ordering" in sections[1].blocks[1]
    assert {"analysis_eu_rescaling", "analysis_au_eu_rank", "analysis_au_eu_rank_orderings"} <= set(w.tables)
    cal = w.tables["analysis_eu_rescaling"].query("task == 'CAL'")
    assert (cal.delta_low <= cal.delta + 1e-9).all() and (cal.delta <= cal.delta_high + 1e-9).all()
    assert analysis_sections(w, main) == []


@pytest.mark.slow  # a whole report, about 20 s
def test_the_report_has_the_analysis_sections_and_unchanged_main_tables(tmp_path: Path) -> None:
    main = fake_results(seeds=(0,))
    with_rows = _with_rank(_with_rescaled(main.assign(analysis="main"), 0.5))
    replicates = _replicates(with_rows)
    plain_run = write_fake_run(tmp_path / "plain", results=main, with_predictions=False, with_replicates=False)
    replicates[replicates.analysis == "main"].drop(columns="analysis").to_parquet(plain_run / "bootstrap.parquet")
    plain = build_report(plain_run)
    run = write_fake_run(tmp_path / "analyses", results=with_rows, with_predictions=False, with_replicates=False)
    replicates.to_parquet(run / "bootstrap.parquet", index=False)
    index = build_report(run)
    text = index.read_text()
    assert 'id="eu-rescaling"' in text and 'id="au-eu-rank"' in text
    assert 'id="eu-rescaling"' not in plain.read_text()
    for name in ("deltas.csv", "table2.csv", "collapse.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(index.parent / "tables" / name),
                                      pd.read_csv(plain.parent / "tables" / name))
