"""The npz cache of generated synthetic data: round trip, reuse, option keys and corrupt files."""

import numpy as np
import pytest

from uqseg.data import get_dataset
from uqseg.data.synthetic import lidc
from uqseg.errors import InputError

SMALL = {"image_size": 16, "n_train": 4, "n_val": 2, "n_test": 3}


def cached(tmp_path, **extra):
    return get_dataset("synthetic-lidc", cache_dir=tmp_path, **{**SMALL, **extra})


def test_round_trip_gives_identical_bytes_and_reuses_the_file(tmp_path, monkeypatch) -> None:
    first = cached(tmp_path)
    files = list(tmp_path.glob("synthetic-lidc-*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as archive:
        assert archive["train/annotations"].dtype == np.uint8
    memory = get_dataset("synthetic-lidc", **SMALL)
    monkeypatch.setattr(lidc, "generate", lambda options: pytest.fail("regenerated despite the cache"))
    second = cached(tmp_path)
    for split in first.split_names:
        for field in ("images", "annotations", "oracle"):
            expected = getattr(memory.split(split), field)
            assert getattr(second.split(split), field).tobytes() == expected.tobytes()
            assert getattr(second.split(split), field).dtype == expected.dtype


def test_other_options_get_their_own_file(tmp_path) -> None:
    cached(tmp_path)
    cached(tmp_path, seed=1)
    cached(tmp_path, ambiguity=0.5)
    assert len(list(tmp_path.glob("synthetic-lidc-*.npz"))) == 3
    assert not list(tmp_path.glob(".tmp-*"))


def test_corrupt_cache_names_the_file(tmp_path) -> None:
    cached(tmp_path)
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(b"not a zip archive")
    with pytest.raises(InputError, match=f"{path.name}: corrupt synthetic-data cache"):
        cached(tmp_path)


def test_cache_missing_an_array_names_the_file(tmp_path) -> None:
    cached(tmp_path)
    (path,) = tmp_path.glob("*.npz")
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files if name != "test/oracle"}
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(InputError, match="missing arrays \\['test/oracle'\\]"):
        cached(tmp_path)


def test_pickled_cache_is_refused(tmp_path) -> None:
    cached(tmp_path)
    (path,) = tmp_path.glob("*.npz")
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["train/images"] = np.array([{"evil": 1}], dtype=object)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    with pytest.raises(InputError, match="corrupt synthetic-data cache"):
        cached(tmp_path)
