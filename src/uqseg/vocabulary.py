"""The names uqseg speaks in, written once (docs/conventions.md "Names", docs/architecture.md).

AU models, EU methods, tasks, measures, split kinds and OOD aggregation strategies as ``str`` enums, their display
labels, the valid combinations in table order (docs/method.md §1: softmax + No-EU is invalid), the number of EU
instances a method draws, and the schema of the tidy results table. Every layer imports these names from here; a
new AU model or EU method is one line in its enum (plus its registration in ``nn.MODELS`` or ``epistemic.factory``).

The ``*_MODELS``/``*_METHODS``/``TASKS`` tuples hold plain strings, so tables and file names never carry enum
objects. AU models outside uqseg (docs/custom_model.md) join the names at run time: ``register_au_model`` (called by
``uqseg.nn.register_model``), a module named in ``UQSEG_PLUGINS``, or a ``uqseg.models`` entry point, loaded the
first time an unknown name is asked for; ``known_au_models()`` is the built-in tuple followed by them.
"""

from __future__ import annotations

import importlib
import os
import re
from enum import Enum
from importlib import metadata
from typing import Literal

import numpy as np
import pandas as pd

from uqseg.errors import ConfigError, InputError


class Name(str, Enum):
    """A ``str`` enum that formats as its value, like Python 3.11's ``StrEnum``."""

    __str__ = str.__str__
    __format__ = str.__format__


class AUModel(Name):
    """Aleatoric-uncertainty models (docs/method.md §4–§5)."""

    SOFTMAX = "softmax"
    SSN = "ssn"
    PROB_UNET = "prob_unet"
    DIFFUSION = "diffusion"
    TTA = "tta"


BEYOND_PAPER_AU = frozenset({AUModel.TTA.value})
"""AU models beyond the paper (docs/method.md §5 "TTA", §10): in every combination of ``combos: all``, outside the
paper's grid (``AU_MODELS``, what ``combos: paper`` expands to)."""


class EUMethod(Name):
    """Epistemic-uncertainty methods (docs/method.md §6)."""

    NONE = "none"
    DROPOUT = "dropout"
    SWAG = "swag"
    SWAG_D = "swag_d"
    ENSEMBLE = "ensemble"
    SUBENSEMBLE = "subensemble"


BEYOND_PAPER_EU = frozenset({EUMethod.SUBENSEMBLE.value})
"""EU methods beyond the paper (docs/method.md §6 "Sub-ensembles from one network", §10): in every combination of
``combos: all``, outside the paper's grid (``EU_METHODS``, what ``combos: paper`` expands to)."""


class Task(Name):
    """The three uncertainty tasks of the paper (docs/method.md §2–§3)."""

    OODD = "OODD"
    AMB = "AMB"
    CAL = "CAL"


class Measure(Name):
    """The decomposed uncertainty measures (docs/method.md §1)."""

    TU = "TU"
    AU = "AU"
    EU = "EU"


class SplitKind(Name):
    """How an evaluated split counts in Δ and the ranks: the ID test or an OOD split (docs/method.md §2)."""

    ID = "ID"
    OOD = "OOD"


class OODStrategy(Name):
    """Image-level OOD aggregation strategies of a pixel-wise uncertainty map (docs/method.md §3 OODD)."""

    IMAGE = "image"
    PATCH = "patch"
    THRESHOLD = "threshold"
    AREA = "area"
    BORDER = "border"


KNOWN_AU_MODELS: tuple[str, ...] = tuple(m.value for m in AUModel)
AU_MODELS: tuple[str, ...] = tuple(m for m in KNOWN_AU_MODELS if m not in BEYOND_PAPER_AU)
KNOWN_EU_METHODS: tuple[str, ...] = tuple(m.value for m in EUMethod)
EU_METHODS: tuple[str, ...] = tuple(m for m in KNOWN_EU_METHODS if m not in BEYOND_PAPER_EU)
TASKS: tuple[str, ...] = tuple(t.value for t in Task)
MEASURES: tuple[str, ...] = tuple(m.value for m in Measure)
STRATEGIES: tuple[str, ...] = tuple(s.value for s in OODStrategy)
SEGMENTATION_TASK = "SEG"

AU_LABELS = {"softmax": "Softmax", "ssn": "SSN", "prob_unet": "Prob. UNet", "diffusion": "Diffusion", "tta": "TTA"}
EU_LABELS = {"none": "No EU", "dropout": "Dropout", "swag": "SWAG", "swag_d": "SWAG-D", "ensemble": "Ensemble",
             "subensemble": "Sub-ensemble"}
INVALID = (AUModel.SOFTMAX.value, EUMethod.NONE.value)


ENTRY_POINT_GROUP = "uqseg.models"
PLUGINS_ENV = "UQSEG_PLUGINS"
"""Comma-separated modules every process imports before it looks up an unknown AU model (set by the ``plugins``
config key, so step worker processes see the models their parent registered; docs/custom_model.md)."""
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_REGISTERED_AU: dict[str, str] = {}
_ENTRY_POINTS: dict[str, object] = {}
_SEARCHED: set[str] = set()


def register_au_model(name: str, label: str | None = None) -> str:
    """Add AU model ``name`` (lower-case letters, digits, ``_``; shown as ``label``, default the name) after the
    built-in ones (docs/custom_model.md); registering it again replaces its label. A built-in name is a ConfigError."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"AU model name {name!r} must be lower-case letters, digits and '_', starting with a letter")
    if name in KNOWN_AU_MODELS:
        raise ConfigError(f"AU model {name!r} is built into uqseg; register the model under another name")
    _REGISTERED_AU[name] = label or name
    return name


def unregister_au_model(name: str) -> None:
    """Forget a registered AU model (tests); unknown and built-in names are left alone."""
    _REGISTERED_AU.pop(name, None)
    _ENTRY_POINTS.pop(name, None)
    _SEARCHED.discard(name)


def known_au_models() -> tuple[str, ...]:
    """Every AU model known now: the built-in ones (``KNOWN_AU_MODELS``) in table order, then the registered ones in
    registration order."""
    return (*KNOWN_AU_MODELS, *_REGISTERED_AU)


def import_plugins(modules: str | list[str] | tuple[str, ...]) -> None:
    """Import ``modules`` (names, or one comma-separated string) so that they register their AU models; ConfigError
    naming the module when one cannot be imported."""
    names = [m.strip() for m in modules.split(",")] if isinstance(modules, str) else list(modules)
    for module in filter(None, names):
        try:
            importlib.import_module(module)
        except Exception as err:  # any failure of a user's module is reported as one line
            raise ConfigError(f"plugin module {module!r} cannot be imported: {type(err).__name__}: {err}") from None


def au_entry_point(name: str) -> object | None:
    """The object of the ``uqseg.models`` entry point ``name``, loaded once (None when there is none); loading it
    registers ``name`` with the object's ``label`` attribute unless the loaded module registered it itself."""
    if name in _ENTRY_POINTS:
        return _ENTRY_POINTS[name]
    found = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        return None
    try:
        loaded = found[0].load()
    except Exception as err:  # any failure of a plugin package is reported as one line
        raise ConfigError(f"entry point {name!r} of group {ENTRY_POINT_GROUP} ({found[0].value}) cannot be loaded: "
                          f"{type(err).__name__}: {err}") from None
    _ENTRY_POINTS[name] = loaded
    if name not in _REGISTERED_AU:
        register_au_model(name, getattr(loaded, "label", None))
    return loaded


def resolve_au(name: str) -> bool:
    """Whether ``name`` is a known AU model, after importing the ``UQSEG_PLUGINS`` modules and loading a
    ``uqseg.models`` entry point of that name the first time it is unknown (docs/custom_model.md)."""
    if name in KNOWN_AU_MODELS or name in _REGISTERED_AU:
        return True
    if name not in _SEARCHED:
        _SEARCHED.add(name)
        import_plugins(os.environ.get(PLUGINS_ENV, ""))
        if name not in _REGISTERED_AU:
            au_entry_point(name)
    return name in _REGISTERED_AU


def combos(grid: Literal["all", "paper"] = "all") -> list[tuple[str, str]]:
    """The valid (AU, EU) combinations in table order (docs/method.md §1: softmax + No-EU is invalid): ``all``, every
    known AU model × EU method (29 built in, plus every EU method of each registered AU model), or ``paper``, the
    paper's 4 × 5 grid (19)."""
    if grid not in ("all", "paper"):
        raise ConfigError(f"unknown combination grid {grid!r}; known: all, paper")
    aus, eus = (known_au_models(), KNOWN_EU_METHODS) if grid == "all" else (AU_MODELS, EU_METHODS)
    return [(a, e) for a in aus for e in eus if (a, e) != INVALID]


def combo_names(grid: Literal["all", "paper"] = "all") -> tuple[str, ...]:
    """The valid combinations of ``grid`` (see ``combos``) as ``au+eu`` names, in table order."""
    return tuple(f"{a}+{e}" for a, e in combos(grid))


def check_au(au: str) -> str:
    """``au`` if it is a known AU model, else ConfigError listing them."""
    if not isinstance(au, str) or not resolve_au(au):
        raise ConfigError(f"unknown AU model {au!r}; known: {', '.join(known_au_models())} (a model of your own is "
                          "registered with uqseg.nn.register_model or a uqseg.models entry point: "
                          "docs/custom_model.md)")
    return au


def check_eu(eu: str) -> str:
    """``eu`` if it is a known EU method, else ConfigError listing them."""
    if eu not in KNOWN_EU_METHODS:
        raise ConfigError(f"unknown EU method {eu!r}; known: {', '.join(KNOWN_EU_METHODS)}")
    return eu


def check_combination(au: str, eu: str) -> None:
    """ConfigError unless ``au`` + ``eu`` is a valid combination (docs/method.md §1)."""
    check_au(au)
    check_eu(eu)
    if (au, eu) == INVALID:
        raise ConfigError("softmax+none is not a valid combination: softmax has no AU samples to serve as instances")


def parse_combination(name: str) -> tuple[str, str]:
    """``(au, eu)`` of a valid combination written ``AU+EU`` (docs/conventions.md "Names"), else a ConfigError that
    quotes ``name``."""
    au, sep, eu = name.partition("+")
    if not sep:
        raise ConfigError(f"{name!r} is not written AU+EU, e.g. ssn+swag")
    try:
        check_combination(au, eu)
    except ConfigError as err:
        raise ConfigError(f"{name!r}: {err}") from None
    return au, eu


def instance_count(eu: str, instances: int, ensemble_size: int, subensemble_size: int = 5) -> int:
    """How many EU instances M method ``eu`` draws (docs/method.md §6): one for No-EU, one per member for the
    ensemble, K = ``subensemble_size`` sub-models for the sub-ensemble, ``instances`` for dropout and SWAG/SWAG-D."""
    check_eu(eu)
    if eu == EUMethod.NONE:
        return 1
    if eu == EUMethod.SUBENSEMBLE:
        return subensemble_size
    return ensemble_size if eu == EUMethod.ENSEMBLE else instances


def au_label(au: str) -> str:
    """Human-readable AU model name (a registered model's label); unknown names pass through."""
    if au in AU_LABELS:
        return AU_LABELS[au]
    return _REGISTERED_AU[au] if resolve_au(au) else au


def eu_label(eu: str) -> str:
    """Human-readable EU method name; unknown names pass through."""
    return EU_LABELS.get(eu, eu)


def order_key(au: str, eu: str) -> tuple[int, int, str]:
    """Sort key putting combinations in the AU × EU table order (registered AU models after the built-in ones, in
    registration order); unknown names go last, alphabetically."""
    aus = known_au_models()
    ia = aus.index(au) if au in aus else len(aus)
    ie = KNOWN_EU_METHODS.index(eu) if eu in KNOWN_EU_METHODS else len(KNOWN_EU_METHODS)
    return ia, ie, f"{au}+{eu}"


def split_group(split: str) -> str | None:
    """``ID`` for the ID test split, ``OOD`` for OOD splits (names starting with ``ood``), None for train/val."""
    if split == "test":
        return SplitKind.ID.value
    return SplitKind.OOD.value if split.startswith("ood") else None


# The tidy results table (docs/conventions.md "Tidy results").
KEYS = ("dataset", "seed", "au", "eu")
ANALYSIS = "analysis"
MAIN_ANALYSIS = "main"
"""The ``analysis`` of the study's own rows; the open-question analyses (docs/method.md "Open questions") add rows
under their own names (``eu_rescaled:<factor>``, ``au_eu_rank``, …). A table without the column is all ``main``."""
ROW_COLUMNS = (ANALYSIS, "split", "task", "measure", "metric", "aggregation")
INTERVAL_COLUMNS = ("ci_low", "ci_high")
RESULT_COLUMNS = (*KEYS, *ROW_COLUMNS, "value", *INTERVAL_COLUMNS, "status")


def with_analysis_column(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with an ``analysis`` column: unchanged when it has one, else every row ``main`` (an evaluator's
    table, a metrics or results file written before the open-question analyses, a hand-made table)."""
    return table if ANALYSIS in table.columns else table.assign(**{ANALYSIS: MAIN_ANALYSIS})


def main_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the study itself (``analysis == "main"``), index reset; the tables, ranks and Δ of the paper are
    computed from these alone."""
    table = with_analysis_column(table)
    return table[table[ANALYSIS] == MAIN_ANALYSIS].reset_index(drop=True)


def check_results(table: pd.DataFrame, source: str = "results") -> pd.DataFrame:
    """The tidy results table with exactly the result columns in order, ``seed`` int64, ``value``, ``ci_low``,
    ``ci_high`` float64 and the other columns str; else InputError. A table without the interval columns (metrics
    files, older runs, a hand-made table) gets them as NaN, one without ``analysis`` gets ``main`` (docs/conventions.md
    "Tidy results")."""
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"{source} must be a pandas DataFrame, got {type(table).__name__}")
    table = with_analysis_column(table)
    missing = [c for c in RESULT_COLUMNS if c not in table.columns and c not in INTERVAL_COLUMNS]
    if missing:
        raise InputError(f"{source}: rows lack columns {missing}; expected {list(RESULT_COLUMNS)}")
    out = table.assign(**{c: np.nan for c in INTERVAL_COLUMNS if c not in table.columns})
    out = out.loc[:, list(RESULT_COLUMNS)].copy()
    try:
        out["seed"] = out["seed"].astype(np.int64)
        for column in ("value", *INTERVAL_COLUMNS):
            out[column] = out[column].astype(np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{source}: seed must be integer and value, ci_low, ci_high numeric ({err})") from None
    for column in ("dataset", *KEYS[2:], *ROW_COLUMNS, "status"):
        out[column] = out[column].astype(str)
    return out
