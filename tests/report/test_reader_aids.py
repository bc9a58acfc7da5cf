"""The report's aids for a reader who has not read the paper: the glossary, the caution banner and a Fig. 7 that
fits a normal window."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from matplotlib.image import imread

from uqseg.report import caution
from uqseg.report.glossary import TERMS

TINY = {"name": "tiny", "train": {"epochs": 2, "batch_size": 4, "limit_train_batches": 2, "ema_decay": 0.999},
        "datasets": {"a": {"options": {"n_train": 8}}, "b": {"options": {"n_train": 40}}}}
TRAINED = {"name": "quick", "train": {"epochs": 16, "batch_size": 16, "ema_decay": 0.95},
           "datasets": {"a": {"options": {"n_train": 192}}}}


def test_steps_and_initial_share_follow_the_config() -> None:
    shares = caution.initial_weight_share(TINY)
    assert shares["a"][0] == 2 * 2 and shares["b"][0] == 2 * 2  # limit_train_batches caps b's 10 batches at 2
    assert shares["a"][1] == 0.999**4
    assert caution.initial_weight_share(TRAINED)["a"] == (16 * 12, 0.95 ** (16 * 12))


def test_an_undertrained_run_gets_the_banner() -> None:
    text = caution.undertrained(TINY)
    assert text is not None and "tiny preset" in text and "4 optimiser steps" in text and "99.6%" in text
    assert caution.undertrained(TRAINED) is None
    few = {**TRAINED, "name": "mine", "train": {"epochs": 1, "batch_size": 64, "ema_decay": 0.999}}
    assert "3 optimiser steps" in caution.undertrained(few)  # not the tiny preset, yet ema barely moved


def test_ranks_that_cannot_be_told_apart_get_the_banner() -> None:
    deltas = pd.DataFrame({"dataset": ["d"] * 3, "au": ["softmax", "ssn", "ssn"], "eu": ["dropout", "swag", "none"]})
    rows = [("d", t, "ID", k) for t in ("AMB", "CAL") for k in ("performance", "entanglement")]
    tied = pd.DataFrame(rows, columns=["dataset", "task", "group", "kind"])
    everyone = tied.assign(best="ssn+swag", tied="a, b", n_tied=2)
    text = caution.tied_ranks(everyone, deltas)
    assert text is not None and "in 4 of 4 comparisons" in text
    assert caution.tied_ranks(tied.assign(best="ssn+swag", tied="a", n_tied=[2, 1, 1, 1]), deltas) is None
    assert caution.tied_ranks(tied.assign(best="ssn+swag", tied="a", n_tied=[2, 2, 1, 1]), deltas) is not None
    assert caution.tied_ranks(everyone.iloc[:0], deltas) is None


def test_the_report_opens_with_the_glossary(full_report: Path) -> None:
    page = full_report.read_text()
    sections = re.findall(r'<section id="([^"]+)"', page)
    assert sections.index("glossary") < sections.index("summary")
    for term, _ in TERMS:
        assert f'<dt style="font-weight:600">{term}</dt>' in page
    assert "arXiv 2603.18792" in page and "Table 2" in page


def test_fig7_fits_a_normal_window(full_report: Path) -> None:
    png = imread(full_report.parent / "figures" / "fig7_entanglement.png")
    height, width = png.shape[:2]
    # at most about 1.3× the report's 1200 px column, so 9 pt labels at 150 dpi show at ≥ 7 pt
    assert width <= 1600 and height > width
