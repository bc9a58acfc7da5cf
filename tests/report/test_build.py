"""build_report and `uqseg report`: every file from a full fake run, partial runs, the panels' orientation."""

from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from fake_run import SIZE, fake_results, fake_split, write_fake_run
from PIL import Image

from uqseg import cli
from uqseg.data import Split
from uqseg.errors import InputError
from uqseg.report import build_report
from uqseg.report.figures.qualitative import display_image, expected_label, most_ambiguous, read_rows

SECTIONS = ("Run summary", "Table 2", "Fig. 7", "Fig. 4", "Fig. 8", "Fig. 9", "Qualitative panels",
            "Appendix: GED and Dice", "Oracle panel")
FIGURES = ("fig4_delta_geometry", "fig7_entanglement", "fig8_collapse", "fig9_ood_aggregation",
           "figA_segmentation_vs_tasks", "fig_oracle_ncc", "fig56_qualitative_fake-lidc",
           "fig56_qualitative_fake-chaksu")
TABLES = ("run_summary", "coverage", "table2", "ranks_performance", "ranks_entanglement", "deltas", "performance",
          "collapse", "ood_aggregation", "segmentation_vs_tasks", "oracle_ncc")


def test_full_report_has_every_file(full_report: Path):
    root = full_report.parent
    assert full_report == root.parent / "report" / "index.html"
    for name in FIGURES:
        with Image.open(root / "figures" / f"{name}.png") as im:
            assert min(im.size) > 300, name
        assert (root / "figures" / f"{name}.pdf").read_bytes().startswith(b"%PDF"), name
    for name in TABLES:
        csv = pd.read_csv(root / "tables" / f"{name}.csv")
        md = (root / "tables" / f"{name}.md").read_text().splitlines()
        assert len(csv) > 0 and len(md) == len(csv) + 2, name
    page = full_report.read_text()
    for heading in SECTIONS:
        assert f"<h2>{heading}" in page, heading
    assert page.count('src="data:image/png;base64,') == len(FIGURES)
    assert 'href="figures/fig7_entanglement.pdf"' in page and 'href="tables/table2.csv"' in page
    assert "N/A" in page and "±" in page  # softmax + No EU, CIs over the 2 seeds
    assert "Missing values" in page and "Every result value is finite" in page
    t2 = pd.read_csv(root / "tables" / "table2.csv")
    assert set(t2.dataset) == {"fake-lidc", "fake-chaksu"} and len(t2) == 2 * 2 * 4


def test_partial_run_builds_with_notes(tmp_path: Path):
    """One dataset, one seed, 3 combinations, no OODD rows, a NaN value, no environment.json; the datasets for the
    panels are opened from config.yaml, and one that cannot be opened is noted instead of failing the report."""
    res = fake_results(seeds=(0,), datasets=("fake-chaksu",))
    res = res[res.au.isin(["ssn", "softmax"]) & res.eu.isin(["ensemble", "none", "dropout"]) & (res.task != "OODD")]
    res = res[res.metric != "ncc_oracle"].reset_index(drop=True)
    res.loc[res.index[0], ["value", "status"]] = [np.nan, "undefined: no pixels"]
    run = write_fake_run(tmp_path / "run", results=res)
    (run / "environment.json").unlink()
    (run / "report" / "stale.txt").parent.mkdir()
    (run / "report" / "stale.txt").write_text("from an earlier build")
    index = build_report(run)
    page = index.read_text()
    assert not list(run.glob(".tmp-*")) and not (run / "report" / "stale.txt").exists()  # replaced atomically
    for heading in SECTIONS[:-1]:
        assert f"<h2>{heading}" in page, heading
    assert "Oracle panel" not in page  # no ncc_oracle rows
    assert "undefined: no pixels" in page and "images and annotators unavailable" in page
    ranks = pd.read_csv(run / "report" / "tables" / "ranks_performance.csv")
    assert set(ranks.task) == {"AMB", "CAL", "final"} and (ranks.n_seeds == 1).all()
    for name in (*FIGURES[:5], "fig56_qualitative_fake-chaksu"):
        assert (run / "report" / "figures" / f"{name}.png").stat().st_size > 0


def test_missing_results_is_an_input_error_and_cli_exits_2(tmp_path: Path, monkeypatch, capsys):
    with pytest.raises(InputError, match="results"):
        build_report(tmp_path)
    with pytest.raises(InputError, match=r"run directory .* does not exist"):
        build_report(tmp_path / "missing")
    monkeypatch.setattr(sys, "argv", ["uqseg", "report", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_panel_rows_keep_orientation(tmp_path: Path):
    """Maps, samples, image and annotators come out exactly as stored: row = y, column = x, nothing transposed."""
    split = fake_split("test", 3, 3, 3, 5, 0)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    ramp = (yy * 100 + xx).astype(np.float32)  # non-symmetric: ramp.T differs
    path = tmp_path / "test.h5"
    with h5py.File(path, "w") as f:
        for i, m in enumerate(("tu", "au", "eu")):
            f[m] = np.stack([ramp + i, ramp + 10, ramp + 20])
        f["mean"] = np.zeros((3, 3, SIZE, SIZE), np.float16)
        f["pred"] = np.zeros((3, SIZE, SIZE), np.uint8)
        f["sample_labels"] = np.zeros((3, 1, SIZE, SIZE), np.uint8)
        smp = np.zeros((2, 4, 3, SIZE, SIZE), np.float16)
        smp[:, :, 2, :4, -3:] = 1  # class 2 in the top-right corner
        smp[:, :, 0] = 1 - smp[:, :, 2]
        f["samples"] = smp
        f.attrs.update({"split": "test", "complete": True})
    rows = read_rows(path, split, n_images=3, n_samples=3)
    assert len(rows) == 2  # only the images with stored samples
    np.testing.assert_array_equal(rows[0].maps["tu"], ramp)
    np.testing.assert_array_equal(rows[1].annotations, split[1]["annotations"])
    assert rows[0].samples.shape == (3, 3, SIZE, SIZE)
    soft = expected_label(rows[0].samples[0])
    assert soft[0, -1] == 2 and soft[-1, 0] == 0
    rgb, cmap = display_image(split[0]["image"])
    assert rgb.shape == (SIZE, SIZE, 3) and cmap is None
    grey, cmap = display_image(split[0]["image"][:1])
    assert cmap == "gray" and np.argmax(grey) == np.argmax(split[0]["image"][0])
    with pytest.raises(InputError, match="images are"):
        read_rows(path, Split("t", np.zeros((3, 1, 8, 8)), np.zeros((3, 4, 8, 8), np.int64)), 1, 1)
    with pytest.raises(InputError, match="holds 3 images"):
        read_rows(path, fake_split("test", 2, 3, 3, 5, 0), 1, 1)


def test_panels_show_the_most_ambiguous_stored_images():
    split = fake_split("test", 5, 1, 2, 4, 0)
    split.annotations[3, 0] = 1 - split.annotations[3, 0]  # image 3: one annotator disagrees everywhere
    split.annotations[1, :] = split.annotations[1, :1]  # image 1: all annotators agree
    assert most_ambiguous(split, 5, 2) == [0, 3]
    assert most_ambiguous(split, 4, 3) == [0, 2, 3]  # only the first 4 have stored samples
    assert most_ambiguous(None, 5, 2) == [0, 1] and most_ambiguous(split, 1, 2) == [0]


def test_empty_results_still_give_a_page(tmp_path: Path):
    fake_results(seeds=(0,), datasets=("fake-lidc",)).iloc[:0].to_parquet(tmp_path / "results.parquet")
    page = build_report(tmp_path).read_text()
    assert "No task results to rank." in page and "<h2>Fig. 7" in page
    assert (tmp_path / "report" / "figures" / "fig7_entanglement.pdf").is_file()
