"""The report renders in a real browser: headless Chromium loads index.html, every section heading is there and
every image decodes to a non-zero natural size (the page's own check writes the sizes into the DOM)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_build import SECTIONS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_report_renders_in_headless_chromium(full_report: Path, tmp_path: Path):
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000",
           "--dump-dom", full_report.resolve().as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True).stdout
    assert "<h1>uqseg report</h1>" in dom
    for heading in SECTIONS:
        assert f"<h2>{heading}" in dom, heading
    check = re.search(r'id="image-check" data-loaded="(\d+)" data-total="(\d+)"', dom)
    assert check, "the page's image check did not run"
    loaded, total = map(int, check.groups())
    assert total == 8 and loaded == total
    sizes = re.findall(r'<img [^>]*data-natural-width="(\d+)" data-natural-height="(\d+)"', dom)
    assert len(sizes) == total and all(int(w) > 0 and int(h) > 0 for w, h in sizes)
