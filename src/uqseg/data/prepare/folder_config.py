"""``dataset.yaml`` of a plain multi-annotator folder (docs/datasets.md, "Any multi-annotator folder").

Every key is optional::

    name: skin-lesions          # the dataset's name in --datasets, presets and the report
    classes: [background, lesion]
    label_values: {0: 0, 255: 1}  # stored mask value -> class index (default: the values are the indices)
    size: 64                    # side of the square every image and mask is brought to
    resize: crop                # crop (centre square), pad (zeros, background) or stretch
    normalisation: standardise  # standardise (per image), imagenet (grey or RGB in [0, 1]) or none
    split: {val: 0.2, test: 0.2, seed: 0}  # used when there is no splits.csv
    group_pattern: '^(P\\d+)_'  # group (e.g. patient) = the first regex group of the image id
    shifts: {noise: 1, blur: 1, contrast: 1, jpeg: 1}  # synthetic OOD copies of test when there is no ood/

Unknown keys, wrong types and impossible values are one-line errors naming ``dataset.yaml`` and the key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from uqseg.data.shifts import SHIFT_NAMES, check_severity
from uqseg.errors import InputError

CONFIG_FILE = "dataset.yaml"
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"


class SplitRule(BaseModel):
    """Fractions of groups for ``val`` and ``test`` and the seed of the group shuffle."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    val: float = Field(0.2, gt=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _room_for_train(self) -> SplitRule:
        if self.val + self.test >= 1:
            raise ValueError("val + test must leave a training fraction")
        return self


class FolderConfig(BaseModel):
    """The parsed ``dataset.yaml`` (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = Field(None, pattern=f"^{NAME_PATTERN}$")
    classes: list[str] | None = Field(None, min_length=2, max_length=255)
    label_values: dict[int, int] | None = None
    size: int | None = Field(None, ge=8, le=4096)
    resize: Literal["crop", "pad", "stretch"] = "crop"
    normalisation: Literal["standardise", "imagenet", "none"] = "standardise"
    split: SplitRule = SplitRule()
    group_pattern: str | None = None
    shifts: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(SHIFT_NAMES, 1.0))

    @field_validator("label_values")
    @classmethod
    def _valid_labels(cls, value: dict[int, int] | None) -> dict[int, int] | None:
        if value is not None and any(v < 0 or v > 254 for v in value.values()):
            raise ValueError("class indices must lie in 0..254")
        return value

    @field_validator("group_pattern")
    @classmethod
    def _valid_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compiled = re.compile(value)
            except re.error as err:
                raise ValueError(f"not a regular expression ({err})") from None
            if compiled.groups < 1:
                raise ValueError("needs one (...) group: the group id")
        return value

    @field_validator("shifts")
    @classmethod
    def _valid_shifts(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SHIFT_NAMES))
        if unknown or not value:
            raise ValueError(f"shifts must name some of {', '.join(SHIFT_NAMES)}, got {sorted(value)}")
        for name, severity in value.items():
            check_severity(f"shifts.{name}", severity)
        return value

    @property
    def num_classes(self) -> int | None:
        return len(self.classes) if self.classes is not None else None


def read_config(source: Path) -> FolderConfig:
    """The ``dataset.yaml`` of ``source`` (defaults when absent); InputError naming the file and key."""
    path = source / CONFIG_FILE
    if not path.is_file():
        return FolderConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise InputError(f"{path}: not readable YAML ({' '.join(str(err).split())})") from None
    if raw is None:
        return FolderConfig()
    if not isinstance(raw, dict):
        raise InputError(f"{path}: must be a mapping of keys (name, classes, size, ...)")
    try:
        return FolderConfig(**raw)
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(f"{path}: {key}: {first['msg'].removeprefix('Value error, ')}") from None
