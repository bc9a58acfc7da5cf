"""Datasets, generators, OOD shifts and preparation. Imports no model code."""

from uqseg.data.contract import (
    ID_SPLITS,
    Dataset,
    DatasetInfo,
    Split,
    available_datasets,
    get_dataset,
    register_dataset,
)

__all__ = ["ID_SPLITS", "Dataset", "DatasetInfo", "Split", "available_datasets", "get_dataset", "register_dataset"]
