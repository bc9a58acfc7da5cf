"""The built-in datasets: the synthetic benchmarks (issue 2) and the prepared real LIDC and Chákṣu (issue 8).

Synthetic factories take exactly ``image_size, n_train, n_val, n_test, seed, ambiguity, cache_dir`` (anything else
is a TypeError, which the experiment runner reports as a ConfigError). Real factories take the prepared ``root``.
"""

from __future__ import annotations

from pathlib import Path

from uqseg.data.contract import Dataset, register_dataset
from uqseg.data.synthetic import chaksu, lidc
from uqseg.data.synthetic.build import synthetic_dataset
from uqseg.data.synthetic.options import SyntheticOptions


@register_dataset(lidc.NAME)
def synthetic_lidc(*, image_size: int = 64, n_train: int = 600, n_val: int = 100, n_test: int = 200, seed: int = 0,
                   ambiguity: float = 1.0, cache_dir: str | Path | None = None) -> Dataset:
    """Grey lesion crops, 2 classes, 4 annotators, OOD = the test set under the 4 SPEC §8 shifts."""
    options = SyntheticOptions(image_size, n_train, n_val, n_test, seed, ambiguity)
    return synthetic_dataset(lidc.info(image_size), lidc.generate, options, cache_dir)


@register_dataset(chaksu.NAME)
def synthetic_chaksu(*, image_size: int = 64, n_train: int = 400, n_val: int = 100, n_test: int = 150,
                     seed: int = 0, ambiguity: float = 1.0, cache_dir: str | Path | None = None) -> Dataset:
    """RGB fundus crops, 3 classes, 5 annotators, device A ID; OOD ``ood`` = n_test images of devices B and C."""
    options = SyntheticOptions(image_size, n_train, n_val, n_test, seed, ambiguity)
    return synthetic_dataset(chaksu.info(image_size), chaksu.generate, options, cache_dir,
                             labelled=chaksu.LABELLED_SPLITS)


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
