"""Training data loading: a torch view of a dataset split and torch's DistributedSampler, whose order depends only on
(seed, epoch).

Because each epoch's order is a function of the seed and the epoch number, a run resumed from a checkpoint sees
the same batches as an uninterrupted one. Under DDP each process takes an equal, disjoint share of the permutation.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler
from torch.utils.data import Dataset as TorchDataset

from uqseg.data.contract import Split
from uqseg.errors import ConfigError, InputError

SUBSET_SEED = 0


def subset_indices(size: int, fraction: float) -> np.ndarray:
    """The training images kept at ``fraction`` of a split of ``size``: the first max(1, round(fraction·size)) of
    one fixed permutation (seed ``SUBSET_SEED``), sorted; smaller fractions keep subsets of larger ones, and every
    run seed and ensemble member sees the same images (docs/method.md "Disentanglement error", epistemic sweep)."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"train_fraction must lie in (0, 1], got {fraction}")
    keep = max(1, int(fraction * size + 0.5))
    return np.sort(np.random.default_rng(SUBSET_SEED).permutation(size)[:keep])


class SplitTorchDataset(TorchDataset):
    """Images and all annotators of one split as tensors (batch layout: docs/method.md §5, docs/conventions.md);
    ``indices`` restricts it to those images."""

    def __init__(self, split: Split, indices: np.ndarray | None = None):
        if len(split) == 0:
            raise InputError(f"split {split.name!r} is empty; there is nothing to train on")
        self.split = split
        self.indices = None if indices is None else [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.split) if self.indices is None else len(self.indices)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = self.split[index if self.indices is None else self.indices[index]]
        return {"image": torch.from_numpy(sample["image"]), "annotations": torch.from_numpy(sample["annotations"])}


def epoch_sampler(size: int, seed: int, rank: int = 0, world_size: int = 1) -> DistributedSampler:
    """torch's ``DistributedSampler`` over ``size`` items: a permutation seeded by (seed, epoch), padded by wrapping
    and sharded across ``world_size`` processes; Lightning calls its ``set_epoch`` at every epoch start. The seed is
    spread (seed · 1 000 003) so that consecutive run seeds do not share epochs' orders."""
    if size < 1:
        raise InputError("cannot sample from an empty dataset")
    return DistributedSampler(range(size), num_replicas=world_size, rank=rank, shuffle=True,  # type: ignore[arg-type]
                              seed=seed * 1_000_003, drop_last=False)


def per_process_batch_size(batch_size: int, world_size: int) -> int:
    """Split the global batch evenly across DDP processes."""
    if batch_size % world_size:
        raise ConfigError(f"batch_size {batch_size} is not divisible by the {world_size} training processes")
    return batch_size // world_size


def train_loader(
    split: Split, *, batch_size: int, seed: int, rank: int, world_size: int, num_workers: int, pin_memory: bool,
    fraction: float = 1.0,
) -> DataLoader:
    """The training DataLoader: epoch-seeded order, full batches only when the split allows, optional workers;
    ``fraction`` < 1 trains on ``subset_indices`` of the split."""
    dataset = SplitTorchDataset(split, None if fraction == 1.0 else subset_indices(len(split), fraction))
    local_batch = per_process_batch_size(batch_size, world_size)
    sampler = epoch_sampler(len(dataset), seed, rank, world_size)
    return DataLoader(
        dataset,
        batch_size=local_batch,
        sampler=sampler,
        drop_last=len(sampler) >= local_batch,
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(seed),
    )


def eval_loader(split: Split, *, batch_size: int, num_workers: int) -> DataLoader:
    """A sequential DataLoader over a split (validation loss)."""
    return DataLoader(SplitTorchDataset(split), batch_size=batch_size, shuffle=False, num_workers=num_workers)
