"""Where a report writes its tables and figures, and one figure section of it (docs/architecture.md ``report/``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from uqseg.report import html
from uqseg.report.tables import to_markdown


class Writer:
    """Writes tables (CSV + Markdown) and keeps the report folder for relative links."""

    def __init__(self, root: Path):
        self.root = root
        (root / "tables").mkdir(parents=True, exist_ok=True)
        (root / "figures").mkdir(parents=True, exist_ok=True)

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    def table(self, df: pd.DataFrame, name: str) -> tuple[str, str]:
        csv, md = self.root / "tables" / f"{name}.csv", self.root / "tables" / f"{name}.md"
        df.to_csv(csv, index=False)
        md.write_text(to_markdown(df), encoding="utf-8")
        return f"tables/{name}.csv", f"tables/{name}.md"

    def figure(self, png: Path, caption: str) -> str:
        return html.figure(png, self.root, caption)

    def figure_section(self, section_id: str, title: str, intro: str, table: pd.DataFrame, table_name: str,
                       png: Path, caption: str, reading: str) -> html.Section:
        """A report section of one analysis: its figure, a reading written from the numbers, and its table as CSV."""
        csv, _ = self.table(table, table_name)
        return html.Section(section_id, title, intro, [
            self.figure(png, caption), f"<p>{html.esc(reading)}</p>",
            f'<div class="links">[<a href="{html.esc(csv)}">CSV</a>]</div>'])
