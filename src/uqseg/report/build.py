"""`build_report(run_dir)`: the paper's tables and figures from a run directory as RUN_DIR/report/index.html, with
every figure as PNG and PDF and every table as CSV and Markdown."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from uqseg.atomic import atomic_directory
from uqseg.data import Dataset
from uqseg.errors import InputError
from uqseg.layout import RunLayout
from uqseg.report import caution, frames, html, run_info
from uqseg.report.analyses import analysis_sections
from uqseg.report.figures.ablation import plot_ablation
from uqseg.report.figures.collapse import plot_collapse
from uqseg.report.figures.entanglement import plot_entanglement
from uqseg.report.figures.geometry import plot_geometry
from uqseg.report.figures.oracle import plot_oracle
from uqseg.report.figures.qualitative import plot_qualitative, read_rows
from uqseg.report.figures.segmentation import plot_segmentation
from uqseg.report.figures.style import context
from uqseg.report.glossary import glossary_section
from uqseg.report.reproducibility import (
    bootstrap_concordance,
    indistinguishable,
    resolved_pairs,
    seed_reproducibility,
    variance_components,
)
from uqseg.report.sweeps import sweep_sections
from uqseg.report.tables import (
    Derived,
    derive,
    performance_from_deltas,
    rank_grid,
    ranks_from_deltas,
    table2,
)
from uqseg.report.writer import Writer
from uqseg.results import load_replicates, load_results
from uqseg.store import complete_predictions, is_complete
from uqseg.vocabulary import au_label, combos, eu_label

RELATIVE = RunLayout.relative()


def _summary(w: Writer, results: pd.DataFrame, cfg: dict, cfg_text: str, env: dict) -> html.Section:
    s = html.Section("summary", "Run summary", "What was run, on what, with which versions, and how long it took; "
                     "missing values and combinations are listed here before any figure.")
    summary = run_info.summary_table(cfg, env, results)
    s.blocks.append(html.table(summary, w.table(summary, "run_summary"), text=True))
    configured = [tuple(c.split("+", 1)) for c in cfg.get("combos") or [] if isinstance(c, str) and "+" in c]
    cov = frames.coverage(results, configured or combos())
    s.blocks += ["<h3>Combinations per dataset and seed</h3>", html.table(cov, w.table(cov, "coverage"), text=True)]
    bad = frames.status_summary(results)
    s.blocks.append("<h3>Missing values (NaN results and why)</h3>")
    s.blocks.append(html.table(bad, w.table(bad, "missing_values"), text=True) if len(bad)
                    else "<p>Every result value is finite.</p>")
    s.blocks.append(f"<details><summary>Resolved config (config.yaml)</summary><pre>{html.esc(cfg_text)}</pre>"
                    "</details>")
    return s


def _table2(w: Writer, derived: Derived) -> html.Section:
    s = html.Section("table2", "Table 2: performance rank and entanglement (Δ) rank",
                     "Lower rank is better (1 = best of the combinations); each cell averages the OODD, AMB and CAL "
                     "ranks, ± the 95% CI over seeds when there are several, or [the 95% bootstrap interval over the "
                     "test images] with one seed; N/A marks the invalid softmax + No EU.")
    deltas = derived.frame
    perf, ent = ranks_from_deltas(derived, "performance"), ranks_from_deltas(derived, "entanglement")
    w.table(table2(perf, ent), "table2")
    w.table(perf, "ranks_performance")
    w.table(ent, "ranks_entanglement")
    if perf.empty:
        s.blocks.append(html.note("No task results to rank."))
    out = deltas[deltas.out_of_range.astype(bool)]
    if len(out):
        s.blocks.append(html.note(f"{len(out)} Δ value(s) lie outside [−1, 1] because a measure's value is negative "
                                  "(e.g. a negative NCC); they are ranked as computed (tables/deltas.csv, column "
                                  "out_of_range)."))
    for dataset in perf.dataset.unique():
        n = int(perf[perf.dataset == dataset].n_seeds.max())
        grids = []
        for kind, ranks in (("Performance rank", perf), ("Δ rank", ent)):
            g = rank_grid(ranks, dataset).reset_index()
            grids.append(f"<div><h3>{html.esc(dataset)}: {kind}</h3>{html.table(g)}</div>")
        s.blocks.append(f'<div class="grids">{"".join(grids)}</div><p class="links">{n} seed(s). Per-task ranks: '
                        '<a href="tables/ranks_performance.csv">performance</a>, '
                        '<a href="tables/ranks_entanglement.csv">Δ</a>; whole table: '
                        '<a href="tables/table2.csv">CSV</a> · <a href="tables/table2.md">Markdown</a></p>')
    s.blocks += _reproducibility(w, derived)
    return s


def _reproducibility(w: Writer, derived: Derived) -> list[str]:
    """How far to trust the ranking: Kendall's W over seeds (or over bootstrap replicates with one seed), and the
    combinations that cannot be told apart from the best (docs/method.md §3)."""
    blocks = ["<h3>How reproducible is the ranking?</h3>"]
    deltas = derived.frame
    if deltas.empty:
        return []
    if deltas.seed.nunique() > 1:
        rep = seed_reproducibility(deltas)
        blocks.append("<p>Kendall's W of the ranks over the seeds (1 = every seed ranks the combinations alike, 0 = "
                      "no agreement) and the mean Kendall τ between pairs of seeds.</p>")
    else:
        rep = bootstrap_concordance(derived)
        blocks.append("<p>One seed: Kendall's W of the ranks over bootstrap resamples of the test images (1 = the "
                      "ranking does not depend on which test images were drawn). It does not cover the training "
                      "seed.</p>")
    blocks.append(html.table(rep, w.table(rep, "rank_concordance"), text=True))
    if deltas.seed.nunique() > 1 and derived.correct.shape[1] > 1:
        pairs = resolved_pairs(derived)
        blocks.append("<p>Where the seeds disagree. Within a seed, a pair of combinations is <em>resolved</em> when "
                      "the bootstrap interval of their rank difference excludes 0. <code>unresolved_discordance</code>"
                      " is the share of the seeds' disagreements on pairs that some seed cannot resolve: that part "
                      "may be test-image noise. <code>tau_resolved</code> is the agreement on the pairs both seeds "
                      "resolve: when it is low, the training seed itself reorders combinations that each seed tells "
                      "apart, and more test images will not make the ranking reproducible (docs/method.md, "
                      "Statistical reporting).</p>")
        blocks.append(html.table(pairs, w.table(pairs, "resolved_pairs"), text=True))
        parts = variance_components(derived)
        blocks.append("<p>Why. The ranked value of each combination (the correct measure, or Δ) split into its "
                      "spread between combinations (<code>sd_combination</code>) and its spread over the training "
                      "seeds (<code>sd_seed</code>), of which test-image sampling explains <code>sd_test_images"
                      "</code>. <code>icc</code> is the correlation of two seeds' values across the combinations and "
                      "<code>expected_tau</code> the Kendall τ it implies. Where <code>sd_seed</code> exceeds "
                      "<code>sd_combination</code> while <code>sd_test_images</code> is small, the combinations "
                      "differ by less than one training seed moves them: more test images cannot help, more seeds "
                      "(and the seed-mean ranks above) can (docs/method.md, Statistical reporting).</p>")
        blocks.append(html.table(parts, w.table(parts, "variance_components"), text=True))
    tied = indistinguishable(derived)
    w.table(tied, "indistinguishable")
    if len(tied):
        blocks.append("<p>Combinations that cannot be told apart from the best one: the 95% paired-bootstrap "
                      "interval of their difference to the best contains 0 (seed means; the interval covers the test "
                      "images only).</p>")
        blocks.append(html.table(tied, ("tables/indistinguishable.csv", "tables/indistinguishable.md"), text=True))
    else:
        blocks.append(html.note("No bootstrap replicates in this run (bootstrap.parquet): intervals are unavailable."))
    intervals = deltas.loc[:, ["dataset", "seed", "au", "eu", "task", "group", "u_correct", "u_correct_low",
                               "u_correct_high", "delta", "delta_low", "delta_high"]]
    blocks.append("<details><summary>Task performance and Δ with 95% bootstrap intervals (every combination)"
                  f"</summary>{html.table(intervals, ('tables/deltas.csv', 'tables/deltas.md'))}</details>")
    return blocks


def _qualitative(w: Writer, run_dir: Path, results: pd.DataFrame, perf_ranks: pd.DataFrame,
                 datasets: Mapping[str, Dataset | str], n_images: int, n_samples: int) -> html.Section:
    s = html.Section("qualitative", "Qualitative panels (Fig. 5/6)",
                     "Per row one test image: the image, its annotators and AU samples (colour = class, samples as "
                     "expected class), then TU, AU and EU on one shared colour scale per row (nats, brighter = more "
                     "uncertain); ID rows first, then OOD.")
    for dataset in dict.fromkeys(results.dataset):
        found = complete_predictions(run_dir, dataset)
        if not found:
            s.blocks.append(html.note(
                f"{dataset}: no complete prediction files under {RELATIVE.predictions_root(dataset).as_posix()}/."))
            continue
        final = perf_ranks[(perf_ranks.dataset == dataset) & (perf_ranks.task == "final")]
        rank = {(r.au, r.eu): r.rank for r in final.itertuples()}
        seed, au, eu, folder = min(found, key=lambda t: (t[0], np.nan_to_num(rank.get((t[1], t[2]), np.inf),
                                                                             nan=np.inf)))
        data = datasets.get(dataset)
        ds = data if isinstance(data, Dataset) else None
        if ds is None:
            s.blocks.append(html.note(f"{dataset}: images and annotators unavailable ({data or 'not configured'})."))
        oods = sorted(p.stem for p in folder.glob("ood*.h5") if is_complete(p))
        rows = []
        for split in ["test", *oods[:1]]:
            try:
                rows += read_rows(folder / f"{split}.h5", ds.split(split) if ds else None, n_images, n_samples)
            except InputError as err:
                s.blocks.append(html.note(f"{dataset} {split}: {err}"))
        if not rows:
            continue
        classes = ds.info.num_classes if ds else int(max(r.samples.shape[1] for r in rows))
        combo = f"{au_label(au)} + {eu_label(eu)}"
        png = plot_qualitative(rows, classes, w.figures, f"fig56_qualitative_{_safe(dataset)}",
                               f"{dataset}, {combo}, seed {seed}")
        s.blocks.append(w.figure(png, f"{dataset}: {combo} (seed {seed}), the best performance rank among the "
                                      "combinations with stored predictions."))
    return s


def _caution(cfg: dict, derived: Derived) -> list[html.Section]:
    """The warning banner, first in the report, when the run is too small for conclusions (uqseg.report.caution)."""
    notes = [n for n in (caution.undertrained(cfg), caution.tied_ranks(indistinguishable(derived), derived.frame))
             if n]
    if not notes:
        return []
    return [html.Section("caution", "Caution: too small for conclusions",
                         "Read the numbers below as a test of the pipeline.", [html.note(n) for n in notes])]


def _figure_section(w: Writer, anchor: str, title: str, guide: str, png: Path, caption: str) -> html.Section:
    return html.Section(anchor, title, guide, [w.figure(png, caption)])


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def build_report(run_dir: Path | str, *, datasets: Mapping[str, Dataset | str] | None = None, n_images: int = 2,
                 n_samples: int = 3) -> Path:
    """Write RUN_DIR/report/ (index.html, figures/*.png|pdf, tables/*.csv|md) from the run's results.parquet, stored
    predictions, config.yaml and environment.json, and return the path of index.html.

    `datasets` maps dataset names to opened datasets (or the reason one is unavailable) for the qualitative panels
    (the caller opens them, e.g. `uqseg.experiments.reporting.run_datasets`); without them the panels show the
    stored maps only. The folder is replaced atomically.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"run directory {run_dir} does not exist")
    results = load_results(run_dir)
    replicates = load_replicates(run_dir)
    cfg, cfg_text = run_info.read_config(run_dir)
    env = run_info.read_environment(run_dir)
    datasets = datasets or {}
    layout = RunLayout(run_dir)
    with context(), atomic_directory(layout.report) as root:
        w = Writer(root)
        derived = derive(results, replicates)
        deltas = derived.frame
        w.table(deltas, "deltas")
        w.table(performance_from_deltas(deltas), "performance")
        sections = [*_caution(cfg, derived), glossary_section(), _summary(w, results, cfg, cfg_text, env),
                    _table2(w, derived)]

        sections.append(_figure_section(
            w, "fig4", "Fig. 4: the geometry of Δ",
            "Δ is the angle of the point (U_w, U_c) from the diagonal in units of 45°: +1 when only the correct "
            "measure works, −1 when only the wrong one does, 0 when they tie.",
            plot_geometry(w.figures), "Fig. 4: two worked examples, one disentangled (above the diagonal) and one "
            "entangled (below)."))
        sections.append(_figure_section(
            w, "fig7", "Fig. 7: performance and entanglement per task",
            "x = the wrong measure, y = the correct one; in the shaded half beyond the dashed diagonal the correct "
            "measure is better (Δ > 0 when both values are ≥ 0); for calibration (ACE) lower is better, so the good "
            "half is below the diagonal.",
            plot_entanglement(deltas, w.figures, derived=derived), "Fig. 7: every combination, mean over seeds, with "
            "95% bootstrap error bars over the test images where the run has replicates; AMB and CAL on the ID test "
            "and the mean of the OOD splits, OODD with border aggregation."))

        collapse = frames.collapse_table(results)
        w.table(collapse, "collapse")
        sections.append(_figure_section(
            w, "fig8", "Fig. 8: epistemic collapse (EU/AU ratio)",
            "The mean border-aggregated EU divided by the same for AU; far below the dashed line at 1 means the EU "
            "instances agree (collapse) and AU carries almost all the uncertainty.",
            plot_collapse(collapse, w.figures), "Fig. 8: mean ± 95% CI over seeds."))

        ablation = frames.ablation_table(results)
        w.table(ablation, "ood_aggregation")
        sections.append(_figure_section(
            w, "fig9", "Fig. 9: OOD aggregation ablation",
            "EU AUROC (left; 0.5 = chance, dotted) and Δ (right; > 0 disentangled) of every combination for each way "
            "of turning a pixel map into an image score; border is the paper's choice.",
            plot_ablation(ablation, w.figures), "Fig. 9: mean ± 95% CI over seeds; AUROC averaged over the OOD "
            "splits."))

        perf_ranks = ranks_from_deltas(derived, "performance")
        sections.append(_qualitative(w, run_dir, results, perf_ranks, datasets, n_images, n_samples))

        seg = frames.segmentation_vs_performance(results, deltas)
        w.table(seg, "segmentation_vs_tasks")
        sections.append(_figure_section(
            w, "segmentation", "Appendix: GED and Dice against task performance",
            "Each point is a combination; a Spearman ρ near 0 means segmentation quality does not predict how well "
            "the uncertainty serves the task.",
            plot_segmentation(seg, w.figures), "Dice and GED (1 − IoU) on the ID test against each task's "
            "correct-measure performance."))

        oracle = frames.oracle_table(results)
        if len(oracle):
            w.table(oracle, "oracle_ncc")
            sections.append(_figure_section(
                w, "oracle", "Oracle panel (synthetic data)",
                "NCC against the exact annotator variance (y) vs against the K sampled annotators (x); points above "
                "the diagonal show how much having only K annotators understates AMB.",
                plot_oracle(oracle, w.figures), "AU, EU and TU NCC on the ID test, mean over seeds."))

        sections += analysis_sections(w, results, replicates)
        sections += sweep_sections(w, results)

        subtitle = (f"Run directory {run_dir.resolve().name}: {results.dataset.nunique()} dataset(s), "
                    f"{results[['au', 'eu']].drop_duplicates().shape[0]} combination(s), "
                    f"{results.seed.nunique()} seed(s). Rethinking UQ and entanglement in image segmentation.")
        (root / layout.report_index.name).write_text(html.page("uqseg report", subtitle, sections), encoding="utf-8")
    return layout.report_index
