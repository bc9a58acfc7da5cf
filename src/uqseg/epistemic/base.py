"""The EU-method interface (docs/method.md §6): "give me instance m" of a trained AU model, singly or several at once.

An EU method offers ``num_instances`` instances θ_0..θ_{M−1}. ``instance(m)`` is a context manager yielding an
``AleatoricModel`` that *is* θ_m while the context is open. ``sample_instances(images, n, ms)`` returns
G×n×B×C×H×W AU samples of the G instances ``ms`` and may evaluate them together (ensemble and SWAG: the G weight
sets stacked into one network, ``uqseg.epistemic.stacked``; MC dropout: G fixed masks); either way the images are
tiled G times instance-major and the AU sampler runs once.

Randomness: every path is a deterministic function of ``seed``. The per-instance loop (``sample_reference``, used
for groups of one and where batching is off) re-seeds the torch RNG with ``seed`` before each instance. A batched
group draws its AU noise once for all G·B rows, so each instance gets its own noise; block g then equals instance
g run alone on the tiled batch from the same seed. Both give the same distribution of samples per instance.
"""

from __future__ import annotations

import contextlib
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from uqseg.errors import ConfigError
from uqseg.nn.base import AleatoricModel


def instance_seed(seed: int, m: int, kind: str) -> int:
    """The seed of instance ``m`` of EU method ``kind`` (dropout mask, SWAG draw): sha256 of (kind, seed, m)."""
    digest = hashlib.sha256(f"uqseg-instance:{kind}:{seed}:{m}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class EpistemicMethod(ABC):
    """M instances of a trained AU model (docs/method.md §6)."""

    name: str = ""

    @property
    @abstractmethod
    def num_instances(self) -> int:
        """M, the number of EU instances."""

    @property
    @abstractmethod
    def num_classes(self) -> int:
        """Number of classes C of the AU model."""

    @abstractmethod
    def _open(self, m: int) -> contextlib.AbstractContextManager[AleatoricModel]:
        """The context manager that turns the underlying model(s) into instance ``m``."""

    @abstractmethod
    def to(self, device: torch.device | str) -> EpistemicMethod:
        """Move every model and buffer this method holds to ``device``; return self."""

    def _check(self, m: int) -> None:
        if not 0 <= m < self.num_instances:
            raise ConfigError(f"{self.name} has instances 0..{self.num_instances - 1}, got {m}")

    @contextlib.contextmanager
    def instance(self, m: int) -> Iterator[AleatoricModel]:
        """Instance θ_m (0-based) as an AU model, valid while the context is open."""
        self._check(m)
        with self._open(m) as model:
            yield model

    def sample_reference(self, images: Tensor, n: int, ms: Sequence[int], seed: int) -> Tensor:
        """The per-instance loop: for each m, re-seed the torch RNG with ``seed`` and draw n AU samples."""
        out = []
        for m in ms:
            with self.instance(m) as model:
                torch.manual_seed(seed)
                out.append(model.sample(images, n))
        return torch.stack(out)

    def sample_instances(self, images: Tensor, n: int, ms: Sequence[int], seed: int) -> Tensor:
        """G×n×B×C×H×W AU samples of instances ``ms``; batched where the method can, else the reference loop."""
        for m in ms:
            self._check(m)
        return self._sample_batched(images, n, list(ms), seed)

    def _sample_batched(self, images: Tensor, n: int, ms: list[int], seed: int) -> Tensor:
        return self.sample_reference(images, n, ms, seed)
