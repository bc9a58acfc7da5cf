"""The report's glossary: the words of the study for a reader who has not read the paper (docs/method.md §1–§3)."""

from __future__ import annotations

from uqseg.report import html

CITATION = ("The study reproduces \"Rethinking Uncertainty Quantification and Entanglement in Image Segmentation\" "
            "(arXiv 2603.18792); figure and table numbers (Fig. 4, Fig. 7, Table 2 …) are the paper's.")
#: A two-column definition list without touching the page's style sheet.
LIST_STYLE = "display:grid;grid-template-columns:max-content 1fr;gap:.25em 1em;margin:.5em 0"

#: (term, meaning) in reading order: measures, tasks, metrics, then Δ.
TERMS = (
    ("TU", "Total uncertainty: the entropy of the mean prediction over every sample, H(E[p]) (nats)."),
    ("AU", "Aleatoric uncertainty: the mean entropy of each EU instance's prediction, E[H(p_m)]; the ambiguity of "
           "the image itself (e.g. annotators who disagree)."),
    ("EU", "Epistemic uncertainty: TU − AU, the disagreement between EU instances (ensemble members, dropout masks, "
           "SWAG draws); the model's own ignorance, high on images unlike the training data."),
    ("OODD", "Out-of-distribution detection: tell test images from shifted ones by one score per image. Correct "
             "measure: EU (unfamiliar inputs are the model's ignorance); wrong: AU."),
    ("AMB", "Ambiguity modelling: the uncertainty map should follow where the annotators disagree. Correct measure: "
            "AU (annotator disagreement is in the data); wrong: EU."),
    ("CAL", "Calibration: after Platt scaling, the confidence should match how often the prediction agrees with an "
            "annotator. Correct measure: TU (every source of error counts); wrong: the better of AU and EU."),
    ("NCC", "Normalised cross-correlation (Pearson) between an uncertainty map and the annotators' label variance, "
            "per image; −1 … 1, higher is better (AMB)."),
    ("ACE", "Average calibration error: the unweighted mean, over the non-empty ones of 20 equal-width confidence "
            "bins, of |accuracy − confidence|; 0 … 1, lower is better (CAL)."),
    ("AUROC", "Area under the ROC curve of in- vs out-of-distribution image scores; 0.5 = chance, 1 = perfect "
              "(OODD). A pixel map becomes an image score by an aggregation: image mean, patch, threshold, area "
              "or border (the paper's choice)."),
    ("Dice", "Overlap of the prediction with each annotator, 2|A∩B|/(|A|+|B|), averaged over annotators and "
             "foreground classes; 0 … 1, higher is better."),
    ("GED", "Generalised energy distance between the model's samples and the annotators (distance 1 − IoU or "
            "1 − Dice); 0 = the samples match the annotators' spread, lower is better."),
    ("Δ", "Entanglement: the angle of the point (U_wrong, U_correct) from the diagonal, in units of 45°. +1: only "
          "the correct measure works (disentangled); 0: both are equally good; below 0: the wrong measure is "
          "better (entangled); −1: only the wrong one works. It lies in "
          "[−1, 1] when both values are ≥ 0 (a negative NCC can push it outside); for ACE the sign is flipped, "
          "since lower is better there."),
    ("Rank", "1 = best of the combinations compared; ties take the average rank. Performance rank orders the "
             "correct measure's value, Δ rank orders Δ."),
)


def glossary_section() -> html.Section:
    """The glossary as the report's first section (a definition list)."""
    items = "".join(f'<dt style="font-weight:600">{html.esc(term)}</dt><dd style="margin:0">{html.esc(text)}</dd>'
                    for term, text in TERMS)
    return html.Section("glossary", "Glossary", CITATION, [f'<dl class="glossary" style="{LIST_STYLE}">{items}</dl>'])
