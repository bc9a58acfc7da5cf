"""The ``sweeps`` section of a benchmark config: which open-question sweeps run, and their levels.

``sweeps.run`` switches each sweep on (docs/method.md
"Entanglement versus shift severity, model size and training"):

- ``severity``: every OOD shift of a generated dataset at ``severity.factors`` × its configured severity, predicted by
  the study's trained models (no extra training);
- ``width``: ``width.combos`` retrained at ``width.factors`` × the backbone's base width;
- ``epoch``: ``epoch.combos`` trained once at their configured epochs, with snapshots after ``epoch.fractions`` ×
  those epochs, each snapshot predicted and evaluated;
- ``disentanglement``: ``disentanglement.combos`` trained at ``disentanglement.ambiguity`` × each generated dataset's
  annotator ambiguity and on ``disentanglement.fractions`` of the training split, for the disentanglement error
  (docs/method.md "Disentanglement error").

Switching a sweep on adds steps; it changes no step of the study itself except the results table and the report.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_factors(value: list[float]) -> list[float]:
    if any(f <= 0 for f in value):
        raise ValueError("factors must be positive")
    if len(set(value)) != len(value):
        raise ValueError("a factor is listed twice")
    return sorted(value)


class SeveritySweep(_Section):
    """Shift severity levels as factors of each dataset's configured severity; ``combos`` empty = every
    combination of the study."""

    factors: list[float] = Field(default_factory=lambda: [0.25, 0.5, 1.0, 1.5, 2.0], min_length=1)
    combos: list[str] = []

    @field_validator("factors")
    @classmethod
    def _valid_factors(cls, value: list[float]) -> list[float]:
        return _check_factors(value)


class WidthSweep(_Section):
    """Base-width levels as factors of the configured base width; ``combos`` empty = the study's first two."""

    factors: list[float] = Field(default_factory=lambda: [0.25, 0.5, 1.0, 2.0], min_length=1)
    combos: list[str] = []

    @field_validator("factors")
    @classmethod
    def _valid_factors(cls, value: list[float]) -> list[float]:
        return _check_factors(value)


class EpochSweep(_Section):
    """Snapshot epochs as fractions of each run's configured epochs (rounded, at least 1); ``combos`` empty = the
    study's first two."""

    fractions: list[float] = Field(default_factory=lambda: [0.2, 0.4, 0.6, 0.8, 1.0], min_length=1)
    combos: list[str] = []

    @field_validator("fractions")
    @classmethod
    def _valid_fractions(cls, value: list[float]) -> list[float]:
        if any(f > 1 for f in value):
            raise ValueError("fractions must be at most 1 (the configured epochs)")
        return _check_factors(value)


class DisentanglementSweep(_Section):
    """The disentanglement error's two sweeps (docs/method.md "Disentanglement error"): ``ambiguity`` factors of each
    generated dataset's configured annotator ambiguity (aleatoric sweep; capped at the generator's maximum) and
    ``fractions`` of the training split (epistemic sweep); ``correlation`` across the levels; ``combos`` empty = the
    study's first two."""

    ambiguity: list[float] = Field(default_factory=lambda: [0.25, 0.5, 1.0, 1.5], min_length=2)
    fractions: list[float] = Field(default_factory=lambda: [0.1, 0.25, 0.5, 1.0], min_length=2)
    correlation: Literal["pearson", "spearman"] = "pearson"
    combos: list[str] = []

    @field_validator("ambiguity")
    @classmethod
    def _valid_ambiguity(cls, value: list[float]) -> list[float]:
        return _check_factors(value)

    @field_validator("fractions")
    @classmethod
    def _valid_fractions(cls, value: list[float]) -> list[float]:
        if any(f > 1 for f in value):
            raise ValueError("fractions must be at most 1 (the whole training split)")
        return _check_factors(value)


class SweepConfig(_Section):
    """Which sweeps run (``run``) and their settings."""

    run: list[Literal["severity", "width", "epoch", "disentanglement"]] = []
    severity: SeveritySweep = SeveritySweep()
    width: WidthSweep = WidthSweep()
    epoch: EpochSweep = EpochSweep()
    disentanglement: DisentanglementSweep = DisentanglementSweep()

    @field_validator("run")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a sweep is listed twice")
        return value
