"""Splits of a folder dataset: a given ``splits.csv`` or a group split with a fixed seed (docs/datasets.md).

``splits.csv`` has the header ``id,split`` or ``id,split,group`` and one row per image of ``images/``; ``split`` is
``train``, ``val`` or ``test``. A group (e.g. a patient) must lie inside one split. Without a ``group`` column, and
without ``splits.csv``, an image's group is the first ``(...)`` of ``group_pattern`` (dataset.yaml) matched in its
id, else the folder part of its id (``<patient>/<slice>``), else the id itself. Without ``splits.csv`` the sorted
groups are shuffled with ``numpy.random.default_rng(seed)``; the first ``round(test·n)`` go to ``test``, the next
``round(val·n)`` to ``val`` (each at least one group), the rest to ``train``. The split used is written to the
output as ``splits.csv`` (``id,split,group``), so a later preparation can reuse it.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from uqseg.data.contract import ID_SPLITS
from uqseg.data.prepare.folder_config import SplitRule
from uqseg.errors import InputError

SPLITS_FILE = "splits.csv"


def group_of(sample_id: str, pattern: str | None) -> str:
    """The group of an image id (module docstring); InputError if ``pattern`` does not match it."""
    if pattern is not None:
        match = re.search(pattern, sample_id)
        if match is None or match.group(1) is None:
            raise InputError(f"image id {sample_id!r} does not match group_pattern {pattern!r} of dataset.yaml")
        return match.group(1)
    folder, _, _ = sample_id.rpartition("/")
    return folder or sample_id


def read_splits(path: Path, ids: list[str], pattern: str | None) -> dict[str, tuple[str, str]]:
    """id → (split, group) from ``splits.csv``; InputError naming the file, line and problem."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: cannot read ({err})") from None
    rows = list(csv.reader(io.StringIO(text)))
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    if header not in (["id", "split"], ["id", "split", "group"]):
        raise InputError(f"{path}: the header must be id,split or id,split,group, got {','.join(header) or 'nothing'}")
    known = set(ids)
    out: dict[str, tuple[str, str]] = {}
    where_group: dict[str, tuple[str, int]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{path} line {line}: {len(row)} columns, the header has {len(header)}")
        sample_id, split = row[0].strip(), row[1].strip()
        if split not in ID_SPLITS:
            raise InputError(f"{path} line {line}: split {split!r} is not one of {', '.join(ID_SPLITS)}")
        if sample_id not in known:
            raise InputError(f"{path} line {line}: id {sample_id!r} has no image in images/")
        if sample_id in out:
            raise InputError(f"{path} line {line}: id {sample_id!r} is listed twice")
        group = row[2].strip() if len(header) == 3 else group_of(sample_id, pattern)
        if group in where_group and where_group[group][0] != split:
            first_split, first_line = where_group[group]
            raise InputError(f"{path} line {line}: group {group!r} is in {split} here but in {first_split} on line "
                             f"{first_line}; a group must stay inside one split")
        where_group.setdefault(group, (split, line))
        out[sample_id] = (split, group)
    missing = [i for i in ids if i not in out]
    if missing:
        raise InputError(f"{path}: image {missing[0]!r} has no row ({len(missing)} images missing)")
    return out


def split_groups(groups: dict[str, str], rule: SplitRule) -> dict[str, tuple[str, str]]:
    """id → (split, group) from id → group by the seeded group split (module docstring); InputError with fewer
    than 3 groups."""
    names = sorted(set(groups.values()))
    n = len(names)
    if n < len(ID_SPLITS):
        raise InputError(f"only {n} group(s) of images; a train/val/test split needs at least 3 (add splits.csv, "
                         "or set group_pattern in dataset.yaml)")
    n_test = max(1, round(rule.test * n))
    n_val = max(1, round(rule.val * n))
    if n_test + n_val >= n:
        n_test, n_val = 1, 1
    order = [names[i] for i in np.random.default_rng(rule.seed).permutation(n)]
    split_of = {g: "test" for g in order[:n_test]}
    split_of.update({g: "val" for g in order[n_test:n_test + n_val]})
    split_of.update({g: "train" for g in order[n_test + n_val:]})
    return {i: (split_of[g], g) for i, g in groups.items()}


def format_splits(assignment: dict[str, tuple[str, str]]) -> str:
    """The ``splits.csv`` text (``id,split,group``) of an assignment, in id order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "split", "group"])
    for sample_id in sorted(assignment):
        writer.writerow([sample_id, *assignment[sample_id]])
    return out.getvalue()
