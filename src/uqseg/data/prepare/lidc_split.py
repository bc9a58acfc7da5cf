"""The LIDC-IDRI patient-level 60/20/20 split with seed 7 (docs/method.md §8).

The procedure is the authors' (``datasets/lidc-idri/gen_splits_lidc.py``: seed 7, test ratio 0.2, 4 folds,
fold 0), applied to the ids of the patients present in the source:

1. sort the patient ids, shuffle them with ``random.Random(seed)`` and take the first ``round(0.2 · n)`` (at least
   one, at most ``n − 1``) as the test patients;
2. sort the remaining patients, shuffle their positions with ``numpy.random.default_rng(seed)``, cut them into 4
   nearly equal chunks (``numpy.array_split``); chunk 0 is the validation set, chunks 1–3 the training set.

Its parameters and the paper's image counts ship in ``uqseg/data/splits/lidc_split.json``. uqseg does not ship a
list of patient ids: which of the LIDC-IDRI patients the pickle holds can only be read from the data, so
``prepare lidc`` writes the resulting ``patient,split`` table into the prepared directory (``split.csv``) and
accepts such a table back (``--split-file``) to reproduce a split exactly.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from uqseg.errors import InputError

SPLIT_NAMES = ("train", "val", "test")
SPLIT_DEFINITION = "lidc_split.json"


def split_definition() -> dict[str, Any]:
    """The shipped split parameters and the paper's counts (``uqseg/data/splits/lidc_split.json``)."""
    resource = resources.files("uqseg").joinpath("data", "splits", SPLIT_DEFINITION)
    return json.loads(resource.read_text(encoding="utf-8"))


def patient_split(patients: Iterable[str], seed: int, test_ratio: float, num_folds: int,
                  fold: int) -> dict[str, str]:
    """Assign each patient to ``train``/``val``/``test`` by the authors' procedure (docs/method.md §8)."""
    ordered = sorted(set(patients))
    if len(ordered) < num_folds + 1:
        raise InputError(f"need at least {num_folds + 1} patients for a {num_folds}-fold split, got {len(ordered)}")
    shuffled = list(ordered)
    random.Random(seed).shuffle(shuffled)
    n_test = min(max(1, round(len(shuffled) * test_ratio)), len(shuffled) - 1)
    test = set(shuffled[:n_test])
    remaining = np.array(sorted(p for p in ordered if p not in test))
    positions = np.arange(len(remaining))
    np.random.default_rng(seed).shuffle(positions)
    val = set(remaining[np.array_split(positions, num_folds)[fold]].tolist())
    return {p: "test" if p in test else "val" if p in val else "train" for p in ordered}


def shipped_patient_split(patients: Iterable[str]) -> dict[str, str]:
    """:func:`patient_split` with the shipped parameters (seed 7, 0.2, 4 folds, fold 0)."""
    spec = split_definition()
    return patient_split(patients, spec["seed"], spec["test_ratio"], spec["num_folds"], spec["fold"])


def format_split_file(assignment: Mapping[str, str]) -> str:
    """The CSV text (``patient,split``, sorted by patient) of a patient → split assignment."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["patient", "split"])
    for patient in sorted(assignment):
        writer.writerow([patient, assignment[patient]])
    return buffer.getvalue()


def read_split_file(path: Path | str) -> dict[str, str]:
    """A patient → split assignment from a ``patient,split`` CSV; InputError naming the file on any defect."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"split file {path} does not exist or is not a file")
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"split file {path}: cannot read it ({err})") from None
    if not rows or [c.strip() for c in rows[0]] != ["patient", "split"]:
        raise InputError(f"split file {path}: expected the header 'patient,split'")
    assignment: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != 2 or row[1].strip() not in SPLIT_NAMES:
            raise InputError(f"split file {path}, line {number}: expected 'patient,train|val|test', got {row}")
        patient = row[0].strip()
        if patient in assignment:
            raise InputError(f"split file {path}, line {number}: patient {patient} listed twice")
        assignment[patient] = row[1].strip()
    if not assignment:
        raise InputError(f"split file {path} lists no patients")
    return assignment
