"""The dataset contract: named splits of multi-annotator samples.

A dataset has ID splits ``train``, ``val``, ``test`` and one or more OOD test splits whose names start with
``ood`` (e.g. ``ood-noise``). Every split is array-backed:

- ``images``: float32, N×C×H×W;
- ``annotations``: int64, N×K×H×W class indices, one map per annotator; a whole map of ``ABSENT`` (−1) marks an
  annotator who did not annotate that image (prepared folder datasets: the number of annotators varies per image);
- ``oracle`` (optional): float32, N×num_classes×H×W, the probability that a random annotator picks each class.

Arrays may be NumPy arrays, memory maps or lazily read HDF5 datasets; indexing with an int or a slice returns NumPy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from uqseg.errors import ConfigError, InputError

ID_SPLITS = ("train", "val", "test")
ABSENT = -1


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset."""

    name: str
    num_classes: int
    in_channels: int
    num_annotators: int
    image_size: tuple[int, int]
    ood_splits: tuple[str, ...]
    class_names: tuple[str, ...] = ()

    @property
    def splits(self) -> tuple[str, ...]:
        return ID_SPLITS + self.ood_splits


class ArrayLike(Protocol):
    shape: tuple[int, ...]

    def __getitem__(self, index: Any) -> np.ndarray: ...


@dataclass
class Split:
    """One split: aligned arrays of images, annotations and, optionally, the exact annotator distribution."""

    name: str
    images: ArrayLike
    annotations: ArrayLike
    oracle: ArrayLike | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check from the shapes alone (nothing is read) that the arrays line up; InputError naming the split."""
        shapes = {"images": self.images, "annotations": self.annotations, "oracle": self.oracle}
        shapes = {k: tuple(getattr(v, "shape", ())) for k, v in shapes.items() if v is not None}
        where = f"split {self.name!r}"
        if any(len(shape) != 4 for shape in shapes.values()):
            raise InputError(f"{where}: images, annotations and oracle must be 4-D (N×C×H×W, N×K×H×W), got {shapes}")
        if len({shape[0] for shape in shapes.values()}) != 1 or len({shape[2:] for shape in shapes.values()}) != 1:
            raise InputError(f"{where}: arrays do not line up in N, H or W: {shapes}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        sample = {
            "image": np.asarray(self.images[index], dtype=np.float32),
            "annotations": np.asarray(self.annotations[index], dtype=np.int64),
        }
        if self.oracle is not None:
            sample["oracle"] = np.asarray(self.oracle[index], dtype=np.float32)
        return sample

    def batches(self, batch_size: int) -> Iterator[dict[str, np.ndarray]]:
        """Yield consecutive batches (dicts of N-first arrays), reading one chunk at a time."""
        for start in range(0, len(self), batch_size):
            stop = min(start + batch_size, len(self))
            batch = {
                "image": np.asarray(self.images[start:stop], dtype=np.float32),
                "annotations": np.asarray(self.annotations[start:stop], dtype=np.int64),
            }
            if self.oracle is not None:
                batch["oracle"] = np.asarray(self.oracle[start:stop], dtype=np.float32)
            yield batch


class Dataset:
    """A dataset: its info and its splits, looked up by name."""

    def __init__(self, info: DatasetInfo, splits: dict[str, Split]):
        missing = [s for s in info.splits if s not in splits]
        if missing:
            raise InputError(f"dataset {info.name!r} lacks splits {missing}")
        for name, split in splits.items():
            _, channels, *_ = split.images.shape
            annotators = split.annotations.shape[1]
            if channels != info.in_channels or annotators != info.num_annotators:
                raise InputError(f"dataset {info.name!r} split {name!r}: {channels} channels and {annotators} "
                                 f"annotators; the dataset has {info.in_channels} and {info.num_annotators}")
        self.info = info
        self._splits = splits

    def split(self, name: str) -> Split:
        if name not in self._splits:
            raise ConfigError(f"dataset {self.info.name!r} has no split {name!r}; it has {list(self._splits)}")
        return self._splits[name]

    @property
    def split_names(self) -> tuple[str, ...]:
        return self.info.splits


DatasetFactory = Callable[..., Dataset]
_REGISTRY: dict[str, DatasetFactory] = {}


def register_dataset(name: str) -> Callable[[DatasetFactory], DatasetFactory]:
    """Register a dataset factory under ``name``; the factory takes keyword options and returns a Dataset."""

    def decorator(factory: DatasetFactory) -> DatasetFactory:
        _REGISTRY[name] = factory
        return factory

    return decorator


def available_datasets() -> list[str]:
    """Names of all registered datasets."""
    _load_builtin()
    return sorted(_REGISTRY)


def get_dataset(name: str, **options: Any) -> Dataset:
    """Build the dataset registered as ``name`` with ``options`` (e.g. ``cache_dir``, ``root``, ``seed``); an
    unregistered ``name`` with a ``root`` is the prepared folder dataset of that name (docs/datasets.md)."""
    _load_builtin()
    if name not in _REGISTRY and options.get("root") is not None:
        from uqseg.data.prepare.folder_names import open_folder_dataset

        return open_folder_dataset(name, **options)
    if name not in _REGISTRY:
        raise ConfigError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**options)


def _load_builtin() -> None:
    import uqseg.data.registry  # noqa: F401  (registers the built-in datasets)
