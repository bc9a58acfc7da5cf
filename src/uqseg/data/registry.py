"""The built-in datasets: the synthetic benchmarks and the prepared real LIDC and Chákṣu (docs/datasets.md).

Synthetic factories take exactly ``image_size, n_train, n_val, n_test, seed, ambiguity, shift_severity, cache_dir``
(anything else is a TypeError, which the experiment runner reports as a ConfigError); ``shift_severity`` maps some or
all of the dataset's shifts to a severity, the rest keep the dataset's defaults. Real factories take the prepared
``root``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from uqseg.data.contract import Dataset, register_dataset
from uqseg.data.synthetic import chaksu, lidc
from uqseg.data.synthetic.build import synthetic_dataset
from uqseg.data.synthetic.options import SyntheticOptions, resolve_shift_severity


@register_dataset(lidc.NAME)
def synthetic_lidc(*, image_size: int = 64, n_train: int = 600, n_val: int = 100, n_test: int = 200, seed: int = 0,
                   ambiguity: float = 1.0, shift_severity: Mapping[str, float] | None = None,
                   cache_dir: str | Path | None = None) -> Dataset:
    """Grey lesion crops, 2 classes, 4 annotators, OOD = the test set under the 4 shifts of docs/method.md §8."""
    severity = resolve_shift_severity(lidc.NAME, shift_severity, lidc.DEFAULT_SHIFT_SEVERITY)
    options = SyntheticOptions(image_size, n_train, n_val, n_test, seed, ambiguity, severity)
    return synthetic_dataset(lidc.info(image_size), lidc.generate, options, cache_dir,
                             split_severity=lidc.split_severity(severity))


@register_dataset(chaksu.NAME)
def synthetic_chaksu(*, image_size: int = 64, n_train: int = 400, n_val: int = 100, n_test: int = 150,
                     seed: int = 0, ambiguity: float = 1.0, shift_severity: Mapping[str, float] | None = None,
                     cache_dir: str | Path | None = None) -> Dataset:
    """RGB fundus crops, 3 classes, 5 annotators, device A ID; OOD ``ood`` = n_test images of devices B and C."""
    severity = resolve_shift_severity(chaksu.NAME, shift_severity, chaksu.DEFAULT_SHIFT_SEVERITY)
    options = SyntheticOptions(image_size, n_train, n_val, n_test, seed, ambiguity, severity)
    return synthetic_dataset(chaksu.info(image_size), chaksu.generate, options, cache_dir,
                             labelled=chaksu.LABELLED_SPLITS, split_severity=chaksu.split_severity(severity))


@register_dataset("lidc")
def prepared_lidc(*, root: str | Path, cache_dir: str | Path | None = None, seed: int = 0) -> Dataset:
    """The prepared LIDC at ``root`` (``uqseg data prepare lidc``); ``cache_dir`` and ``seed`` do not apply."""
    from uqseg.data.prepared import open_prepared

    return open_prepared(root, "lidc")


@register_dataset("chaksu")
def prepared_chaksu(*, root: str | Path, cache_dir: str | Path | None = None, seed: int = 0) -> Dataset:
    """The prepared Chákṣu at ``root`` (``uqseg data prepare chaksu``); ``cache_dir`` and ``seed`` do not apply."""
    from uqseg.data.prepared import open_prepared

    return open_prepared(root, "chaksu")
