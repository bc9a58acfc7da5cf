"""The worked example of docs/custom_model.md end to end: a model defined outside uqseg (``hetero_unet``) runs through
the tiny preset on a prepared folder dataset with two EU methods, in worker processes, and shows in the report."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_runner import run_uqseg
from uqseg.data.prepare.folder import prepare_folder
from uqseg.vocabulary import PLUGINS_ENV, unregister_au_model

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "custom_model.md"


def test_the_page_shows_the_example_module_as_it_is() -> None:
    """docs/custom_model.md's one Python block is hetero_unet.py, so the page cannot drift from what is tested."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert blocks == [(HERE / "hetero_unet.py").read_text(encoding="utf-8")]


def write_folder(root: Path, images: int = 12, side: int = 16) -> Path:
    """A two-rater folder dataset of non-symmetric discs (images/ and annotations/<rater>/ as .npy)."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:side, :side]
    for i in range(images):
        cy, cx = rng.uniform(4, side - 6, size=2)
        lesion = (yy - cy) ** 2 + ((xx - cx) / 1.5) ** 2 < 9
        image = lesion * 0.8 + rng.normal(0, 0.1, (side, side)) + xx / (4 * side)
        (root / "images").mkdir(parents=True, exist_ok=True)
        np.save(root / "images" / f"case{i:02d}.npy", image.astype(np.float32))
        for r, grow in (("r1", 0), ("r2", 1)):
            mask = (yy - cy) ** 2 + ((xx - cx) / 1.5) ** 2 < 9 + 4 * grow
            (root / "annotations" / r).mkdir(parents=True, exist_ok=True)
            np.save(root / "annotations" / r / f"case{i:02d}.npy", mask.astype(np.uint8))
    return root


@pytest.mark.slow
def test_custom_model_through_the_tiny_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """``uqseg benchmark --combos hetero+ensemble,hetero+dropout --set plugins=[hetero_unet]`` with two worker
    processes (which know the model only through ``plugins``): both combinations have results, and the report's
    tables and figure captions name the model by its label."""
    monkeypatch.setenv(PLUGINS_ENV, "")
    data = tmp_path / "prepared"
    prepare_folder(write_folder(tmp_path / "lesions"), data, echo=lambda line: None)
    out = tmp_path / "run"
    code, _, stderr = run_uqseg(
        monkeypatch, capsys, "benchmark", "--preset", "tiny", "--datasets", f"folder:{data}",
        "--combos", "hetero+ensemble,hetero+dropout", "--set", "plugins=[hetero_unet]",
        "--set", "execution.workers=2", "--out", str(out))
    try:
        assert code == 0, stderr
        assert os.environ[PLUGINS_ENV] == "hetero_unet"
        results = pd.read_parquet(out / "results.parquet")
        assert set(zip(results.au, results.eu, strict=True)) == {("hetero", "ensemble"), ("hetero", "dropout")}
        assert (results.status == "ok").all()
        html = "".join(p.read_text(encoding="utf-8") for p in (out / "report").glob("*.html"))
        assert html.count("<td>Hetero UNet</td>") >= 2  # a row of the AU × EU tables, under the model's label
        assert "Hetero UNet + " in html  # the qualitative figures' captions
    finally:
        unregister_au_model("hetero")
