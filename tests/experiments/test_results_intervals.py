"""results.parquet carries 95 % bootstrap intervals and bootstrap.parquet the replicates (docs/method.md §3)."""

import numpy as np
import pandas as pd

from uqseg.layout import replicates_path
from uqseg.results import (
    RESULT_COLUMNS,
    combine_metrics,
    combine_replicates,
    load_replicates,
    load_results,
    with_intervals,
    write_results,
)


def _metrics(combo: str) -> pd.DataFrame:
    au, eu = combo.split("+")
    return pd.DataFrame({"dataset": "d", "seed": 0, "au": au, "eu": eu, "split": ["test", "ood"],
                         "task": "AMB", "measure": "AU", "metric": "ncc", "aggregation": "none",
                         "value": [0.5, np.nan], "status": ["ok", "undefined: constant"]})


def test_results_get_percentile_intervals_and_the_replicate_file(tmp_path):
    paths = []
    for combo in ("ssn+dropout", "softmax+ensemble"):
        path = tmp_path / "metrics" / f"{combo}.parquet"
        path.parent.mkdir(exist_ok=True)
        _metrics(combo).to_parquet(path, index=False)
        paths.append(path)
    # the first combination has replicates 0 … 100 (in reverse, so alignment matters); the second has none
    keys = _metrics("ssn+dropout").iloc[::-1, :9].reset_index(drop=True)
    reps = pd.concat([keys, pd.DataFrame(np.tile(np.arange(101, dtype=np.float32), (2, 1)),
                                         columns=[f"b{i}" for i in range(101)])], axis=1)
    reps.to_parquet(replicates_path(paths[0]), index=False)
    replicates = combine_replicates(replicates_path(p) for p in paths)
    table = with_intervals(combine_metrics(paths), replicates)
    write_results(table, tmp_path, replicates=replicates)
    out = load_results(tmp_path)
    assert list(out.columns) == list(RESULT_COLUMNS)
    row = out[(out.au == "ssn") & (out.split == "test")].iloc[0]
    assert np.allclose([row.ci_low, row.ci_high], [2.5, 97.5])
    assert out[out.au == "softmax"].ci_low.isna().all()  # no replicate file: NaN, not an error
    assert out[out.value.isna()].ci_high.isna().all()  # undefined value: undefined interval
    stored = load_replicates(tmp_path)
    assert stored.b100.dtype == np.float32 and len(stored) == len(out)
    assert stored.loc[:, ["au", "split"]].equals(out.loc[:, ["au", "split"]])
    csv = load_results(tmp_path / "results.csv")
    assert np.allclose(csv.ci_low, out.ci_low, equal_nan=True)


def test_old_results_without_interval_columns_load_with_nan(tmp_path):
    old = _metrics("ssn+dropout")
    old.to_parquet(tmp_path / "results.parquet", index=False)
    out = load_results(tmp_path)
    assert list(out.columns) == list(RESULT_COLUMNS)
    assert out.ci_low.isna().all() and out.ci_high.isna().all()
    assert load_replicates(tmp_path) is None
    write_results(out, tmp_path)
    assert not (tmp_path / "bootstrap.parquet").exists()
