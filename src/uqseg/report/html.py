"""The report page: one offline HTML file with the figures embedded as PNG data URIs and links to the PDF, CSV and
Markdown files beside it. A small script records each image's natural size and says whether all figures loaded."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}h3{font-size:1.05em}
p.guide{background:#f4f7fb;border-left:4px solid #4a7ab5;padding:.4em .8em;margin:.5em 0 1em}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption,.links{font-size:.85em;color:#555}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{border:1px solid #ccc;padding:.2em .5em;
text-align:right}th{background:#f0f0f0}td:first-child,th:first-child,table.text td,table.text th{text-align:left}
.grids{display:flex;flex-wrap:wrap;gap:2em}.note{color:#8a5300}pre{background:#f7f7f7;padding:.6em;overflow:auto;
font-size:.8em}nav a{margin-right:1em}#image-check{font-size:.8em;color:#555}
"""

CHECK_SCRIPT = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images), ok = 0;
  imgs.forEach(function (im) {
    im.setAttribute("data-natural-width", im.naturalWidth);
    im.setAttribute("data-natural-height", im.naturalHeight);
    if (im.complete && im.naturalWidth > 0 && im.naturalHeight > 0) { ok += 1; }
  });
  var el = document.getElementById("image-check");
  el.setAttribute("data-loaded", ok);
  el.setAttribute("data-total", imgs.length);
  el.textContent = ok === imgs.length ? "All " + imgs.length + " figures loaded."
    : (imgs.length - ok) + " of " + imgs.length + " figures failed to load.";
});
"""


@dataclass
class Section:
    """One section of the page: an anchor id, a heading, a one-line reading guide and its HTML blocks."""

    anchor: str
    title: str
    guide: str
    blocks: list[str] = field(default_factory=list)


def esc(text: object) -> str:
    """HTML-escaped text."""
    return html.escape(str(text))


def figure(png: Path, report_dir: Path, caption: str) -> str:
    """The PNG embedded as a data URI, with its caption and relative links to the PNG and PDF files."""
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    rel = png.relative_to(report_dir).as_posix()
    pdf = png.with_suffix(".pdf").relative_to(report_dir).as_posix()
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(caption)}">'
            f'<figcaption>{esc(caption)} <span class="links">[<a href="{esc(rel)}">PNG</a> · '
            f'<a href="{esc(pdf)}">PDF</a>]</span></figcaption></figure>')


def table(df: pd.DataFrame, links: tuple[str, str] | None = None, float_digits: int = 3, text: bool = False) -> str:
    """A table (index dropped), NaN shown as —, with optional relative links to its CSV and Markdown files;
    `text` left-aligns every cell (for tables of words rather than numbers)."""
    body = df.to_html(index=False, na_rep="—", border=0, escape=True, classes="text" if text else None,
                      float_format=lambda v: f"{v:.{float_digits}f}")
    if links:
        body += f'<div class="links">[<a href="{esc(links[0])}">CSV</a> · <a href="{esc(links[1])}">Markdown</a>]</div>'
    return body


def note(text: str) -> str:
    """A highlighted remark, e.g. why a part of the report is empty."""
    return f'<p class="note">{esc(text)}</p>'


def page(title: str, subtitle: str, sections: list[Section]) -> str:
    """The whole page: title, a table of contents, the sections, and the image check."""
    nav = " ".join(f'<a href="#{esc(s.anchor)}">{esc(s.title)}</a>' for s in sections)
    parts = [f'<section id="{esc(s.anchor)}"><h2>{esc(s.title)}</h2><p class="guide">{esc(s.guide)}</p>'
             + "".join(s.blocks) + "</section>" for s in sections]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f'<body><h1>{esc(title)}</h1><p>{esc(subtitle)}</p><nav>{nav}</nav>{"".join(parts)}'
            f'<p id="image-check">Checking figures…</p><script>{CHECK_SCRIPT}</script></body></html>\n')
