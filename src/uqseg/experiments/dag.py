"""The step graph: steps added once each, dependencies checked, run in a stable dependency order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from uqseg.errors import ConfigError
from uqseg.experiments.steps import Step


class StepGraph:
    """A DAG of steps by name. Adding a step twice with the same key keeps one (shared training runs are planned
    once); the same name with a different key is a planning error. ``satisfied`` names steps finished before this
    graph runs (an earlier planning phase) that its steps may depend on."""

    def __init__(self, steps: Iterable[Step] = (), satisfied: Iterable[str] = ()):
        self._steps: dict[str, Step] = {}
        self.satisfied = frozenset(satisfied)
        for step in steps:
            self.add(step)

    def add(self, step: Step) -> Step:
        """Add ``step`` (or return the identical one already present); its dependencies must be present."""
        known = self._steps.get(step.name)
        if known is not None:
            if known.key != step.key:
                raise ConfigError(f"step {step.name!r} planned twice with different inputs ({known.key} vs {step.key})")
            return known
        missing = [dep for dep in step.deps if dep not in self._steps and dep not in self.satisfied]
        if missing:
            raise ConfigError(f"step {step.name!r} depends on steps not yet planned: {missing}")
        self._steps[step.name] = step
        return step

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.order())

    def __contains__(self, name: object) -> bool:
        return name in self._steps

    def __getitem__(self, name: str) -> Step:
        return self._steps[name]

    def order(self) -> list[Step]:
        """All steps, each after its dependencies (insertion order, which ``add`` already guarantees)."""
        return list(self._steps.values())

    def ready(self, done: set[str], running: set[str]) -> list[Step]:
        """Steps not done or running whose dependencies are all done, in insertion order."""
        finished = done | self.satisfied
        return [s for n, s in self._steps.items() if n not in done and n not in running and set(s.deps) <= finished]

    def downstream(self, name: str) -> set[str]:
        """Names of every step that depends, directly or not, on ``name``."""
        below: set[str] = set()
        for step in self._steps.values():
            if name in step.deps or below.intersection(step.deps):
                below.add(step.name)
        return below
