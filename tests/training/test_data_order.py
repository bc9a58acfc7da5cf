"""The training order (docs/method.md §7): a function of (seed, epoch) only, sharded disjointly under DDP."""

from __future__ import annotations

import pytest
import torch

from uqseg.errors import InputError
from uqseg.training.data import epoch_sampler


def _order(size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[int]:
    sampler = epoch_sampler(size, seed, rank, world)
    sampler.set_epoch(epoch)
    return list(sampler)


def test_order_is_the_seeded_permutation_of_each_epoch() -> None:
    expected = torch.randperm(10, generator=torch.Generator().manual_seed(3 * 1_000_003 + 2)).tolist()
    assert _order(10, seed=3, epoch=2) == expected
    assert _order(10, 3, 2) == _order(10, 3, 2)  # what a resumed run draws
    assert _order(10, 3, 2) != _order(10, 3, 3) and _order(10, 3, 2) != _order(10, 4, 2)


def test_shards_are_equal_disjoint_and_cover_the_padded_permutation() -> None:
    shards = [_order(7, seed=1, epoch=0, rank=r, world=3) for r in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]
    full = _order(7, seed=1, epoch=0)
    padded = full + full[:2]
    assert [padded[r::3] for r in range(3)] == shards


def test_empty_split_is_refused() -> None:
    with pytest.raises(InputError, match="empty"):
        epoch_sampler(0, seed=0)
