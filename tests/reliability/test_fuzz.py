"""Property-based fuzz (bad input): the metric functions, the uncertainty decomposition and the dataset
loaders, fed random shapes, dtypes, NaNs, infs and empty masks, return a defined value or raise uqseg's own error
type, never an exception from deep inside NumPy. Tidy tables never hold a NaN with status ``ok``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from uqseg import metrics
from uqseg.data.contract import Dataset, DatasetInfo, Split
from uqseg.data.prepared import open_prepared
from uqseg.data.synthetic.cache import load_arrays
from uqseg.errors import UqsegError
from uqseg.results import write_results
from uqseg.uncertainty import decompose

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.function_scoped_fixture])
DTYPES = st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.uint8, np.bool_, np.complex64])


@st.composite
def arrays(draw, min_dims: int = 0, max_dims: int = 5):
    """Arrays of any listed dtype and 0–5 small axes (empty ones included), with NaN/inf sprinkled in floats."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=4))
    dtype = draw(DTYPES)
    elements = None
    if np.issubdtype(dtype, np.floating):
        width = np.dtype(dtype).itemsize * 8
        elements = st.one_of(st.floats(-2, 2, width=width), st.sampled_from([np.nan, np.inf])) \
            if draw(st.booleans()) else st.floats(0, 1, width=width)
    elif np.issubdtype(dtype, np.integer):
        elements = st.integers(0, 3)
    return draw(hnp.arrays(dtype, shape, elements=elements))


def defined_or_own_error(fn, *args, **kwargs):
    """Call ``fn``; a UqsegError is fine, any other exception fails the test. Return the result (None on error)."""
    try:
        return fn(*args, **kwargs)
    except UqsegError:
        return None


def in_range(value, low: float, high: float) -> None:
    """A returned value (None: refused with a UqsegError) lies in [low, high] or is NaN, never ±inf or beyond."""
    if value is not None:
        v = np.asarray(value, dtype=np.float64)
        assert np.all(((v >= low) & (v <= high)) | np.isnan(v)), value


@FUZZ
@given(arrays(), arrays())
def test_pairwise_metrics(a, b) -> None:
    in_range(defined_or_own_error(metrics.ncc, a, b), -1 - 1e-9, 1 + 1e-9)
    for classes in (2, 3):
        in_range(defined_or_own_error(metrics.dice, a, b, classes), 0, 1)
        in_range(defined_or_own_error(metrics.ged, a, b, classes), -1e-9, 2 + 1e-9)
    in_range(defined_or_own_error(metrics.pixel_correctness, a, b), 0, 1)
    in_range(defined_or_own_error(metrics.ace, a, b), 0, 1)
    in_range(defined_or_own_error(metrics.auroc, a, b), 0, 1)
    in_range(defined_or_own_error(metrics.annotator_variance, a), 0, np.inf)


@FUZZ
@given(arrays(), arrays(), st.sampled_from(metrics.STRATEGIES), st.one_of(st.floats(-1, 2), st.just(np.nan)),
       st.integers(-1, 5))
def test_aggregate(u, pred, strategy, tau, patch) -> None:
    out = defined_or_own_error(metrics.aggregate, u, pred, strategy, tau=tau, patch_size=patch)
    if out is not None and u.size:  # an image of zero pixels scores NaN (reported as a finding)
        assert np.isfinite(np.asarray(out, dtype=np.float64)).all()


@FUZZ
@given(arrays(), st.booleans())
def test_decompose(probs, nested) -> None:
    maps = defined_or_own_error(decompose, probs, nested=nested)
    if maps is not None:
        for name in ("tu", "au", "eu"):
            assert np.isfinite(np.asarray(getattr(maps, name))).all()


@st.composite
def evaluator_batches(draw):
    """A validation and a test batch: random maps (possibly NaN), random or empty (all-background) masks."""
    n, h, w, k = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 3))

    def batch():
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        probs = rng.dirichlet(np.ones(2), size=(n, h, w)).transpose(0, 3, 1, 2)
        maps = {m: rng.uniform(0, 0.7, (n, h, w)) * draw(st.sampled_from([0.0, 1.0])) for m in ("tu", "au", "eu")}
        if draw(st.booleans()) and draw(st.booleans()):
            maps["eu"][0, 0, 0] = np.nan
        ann = (rng.uniform(size=(n, k, h, w)) < draw(st.sampled_from([0.0, 0.5, 1.0]))).astype(np.int64)
        return {**maps, "mean": probs, "annotations": ann, "sample_labels": ann.transpose(1, 0, 2, 3)}

    return batch(), batch(), batch()


@FUZZ
@given(evaluator_batches())
def test_evaluator_never_reports_a_silent_nan(batches) -> None:
    val, test, ood = batches
    ev = metrics.Evaluator(2, ood_splits=["ood"])
    table = defined_or_own_error(lambda: (ev.add_validation(val), ev.add("test", test), ev.add("ood", ood),
                                          ev.results())[-1])
    if table is not None:
        assert not (~np.isfinite(table.value) & (table.status == "ok")).any(), table[~np.isfinite(table.value)]


def test_results_writer_refuses_a_silent_nan(tmp_path: Path) -> None:
    row = {"dataset": "d", "seed": 0, "au": "ssn", "eu": "none", "split": "ood", "task": "OODD", "measure": "EU",
           "metric": "auroc", "aggregation": "image", "value": np.nan, "status": "undefined: single class"}
    write_results(pd.DataFrame([row]), tmp_path)
    with pytest.raises(UqsegError, match=r"NaN or inf with status 'ok'.*auroc"):
        write_results(pd.DataFrame([{**row, "status": "ok"}]), tmp_path / "other")
    assert not (tmp_path / "other" / "results.parquet").exists()


@FUZZ
@given(arrays(min_dims=1), arrays(min_dims=1), st.integers(1, 3))
def test_split_access(images, annotations, batch_size) -> None:
    split = defined_or_own_error(Split, "test", images, annotations)
    if split is not None and len(split):
        defined_or_own_error(split.__getitem__, 0)
        defined_or_own_error(lambda: list(split.batches(batch_size)))


@FUZZ
@given(arrays(min_dims=1), arrays(min_dims=1), st.integers(1, 3), st.integers(1, 3))
def test_dataset_construction(images, annotations, classes, annotators) -> None:
    info = DatasetInfo("fuzz", classes, 1, annotators, (4, 4), ("ood",))
    defined_or_own_error(lambda: Dataset(info, {name: Split(name, images, annotations) for name in info.splits}))


@FUZZ
@given(blob=st.binary(max_size=64), name=st.sampled_from(["images", "annotations"]))
def test_synthetic_cache_loader(blob, name, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("cache") / "c.npz"
    path.write_bytes(blob)
    defined_or_own_error(load_arrays, path, [name])


@FUZZ
@given(manifest=st.dictionaries(st.sampled_from(["format", "version", "complete", "dataset", "splits", "num_classes",
                                         "num_annotators", "in_channels", "stored_channels", "normalisation"]),
                       st.one_of(st.none(), st.integers(-1, 3), st.text(max_size=5), st.booleans(),
                                 st.dictionaries(st.sampled_from(["train", "val", "test", "ood"]),
                                                 st.dictionaries(st.sampled_from(["count", "max_label"]),
                                                                 st.integers(-1, 3))))),
       data=st.binary(max_size=32))
def test_prepared_loader(manifest, data, tmp_path_factory) -> None:
    root = tmp_path_factory.mktemp("prepared")
    (root / "manifest.json").write_text(json.dumps({"format": "uqseg-prepared", "version": 1, "complete": True,
                                                    "dataset": "lidc", **manifest}))
    (root / "data.h5").write_bytes(data)
    defined_or_own_error(open_prepared, root, "lidc")
