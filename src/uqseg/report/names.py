"""Display names and the canonical order of AU models, EU methods, tasks and OOD strategies (conventions.md)."""

from __future__ import annotations

AU_MODELS = ("softmax", "ssn", "prob_unet", "diffusion")
EU_METHODS = ("none", "dropout", "swag", "swag_d", "ensemble")
AU_LABELS = {"softmax": "Softmax", "ssn": "SSN", "prob_unet": "Prob. UNet", "diffusion": "Diffusion"}
EU_LABELS = {"none": "No EU", "dropout": "Dropout", "swag": "SWAG", "swag_d": "SWAG-D", "ensemble": "Ensemble"}
TASKS = ("OODD", "AMB", "CAL")
STRATEGIES = ("image", "patch", "threshold", "area", "border")
INVALID = ("softmax", "none")


def combos() -> list[tuple[str, str]]:
    """The 19 valid (AU, EU) combinations in table order (docs/method.md §1: softmax + No-EU is invalid)."""
    return [(a, e) for a in AU_MODELS for e in EU_METHODS if (a, e) != INVALID]


def au_label(au: str) -> str:
    """Human-readable AU model name; unknown names pass through."""
    return AU_LABELS.get(au, au)


def eu_label(eu: str) -> str:
    """Human-readable EU method name; unknown names pass through."""
    return EU_LABELS.get(eu, eu)


def order_key(au: str, eu: str) -> tuple[int, int, str]:
    """Sort key putting combinations in the AU × EU table order; unknown names go last, alphabetically."""
    ia = AU_MODELS.index(au) if au in AU_MODELS else len(AU_MODELS)
    ie = EU_METHODS.index(eu) if eu in EU_METHODS else len(EU_METHODS)
    return ia, ie, f"{au}+{eu}"
