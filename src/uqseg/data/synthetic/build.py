"""Turn a generator's arrays into a :class:`uqseg.data.Dataset`, through the cache when one is given."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from uqseg.data.contract import ID_SPLITS, Dataset, DatasetInfo, Split
from uqseg.data.synthetic.cache import cache_path, load_arrays, save_arrays
from uqseg.data.synthetic.options import SyntheticOptions
from uqseg.errors import InputError

Generator = Callable[[SyntheticOptions], dict[str, np.ndarray]]


def expected_arrays(info: DatasetInfo, labelled: tuple[str, ...]) -> list[str]:
    """Array names a generator returns: images of every split; annotations and oracle of the ``labelled`` ones."""
    return [f"{s}/images" for s in info.splits] + [f"{s}/{k}" for s in labelled for k in ("annotations", "oracle")]


def synthetic_dataset(info: DatasetInfo, generate: Generator, options: SyntheticOptions,
                      cache_dir: Path | str | None, labelled: tuple[str, ...] = ID_SPLITS,
                      split_severity: Mapping[str, float] | None = None) -> Dataset:
    """Generate (or load from ``cache_dir``) the arrays and assemble the dataset.

    Splits not in ``labelled`` (shifted copies of the test set) share the test split's annotations and oracle.
    Annotations are stored as uint8 and returned as int64. ``split_severity`` (OOD split → shift severity) goes into
    those splits' ``meta["severity"]``.
    """
    expected = expected_arrays(info, labelled)
    if cache_dir is None:
        arrays = generate(options)
    else:
        path = cache_path(cache_dir, info.name, options.as_dict())
        if path.is_file():
            arrays = load_arrays(path, expected)
        else:
            arrays = generate(options)
            save_arrays(path, arrays)
    annotations_of = {split: np.asarray(arrays[f"{split}/annotations"], dtype=np.int64) for split in labelled}
    splits = {}
    for split in info.splits:
        source = split if split in labelled else "test"
        images, annotations = arrays[f"{split}/images"], annotations_of[source]
        if len(images) != len(annotations):
            raise InputError(f"{info.name}: split {split!r} has {len(images)} images but {len(annotations)} "
                             "annotation sets (a corrupt cache?)")
        meta = {"generator": info.name, **options.as_dict()}
        if split_severity is not None and split in split_severity:
            meta["severity"] = float(split_severity[split])
        splits[split] = Split(split, images, annotations, arrays[f"{source}/oracle"], meta=meta)
    return Dataset(info, splits)
