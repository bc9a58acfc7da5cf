"""Training data loading: a torch view of a dataset split and torch's DistributedSampler, whose order depends only on
(seed, epoch).

Because each epoch's order is a function of the seed and the epoch number, a run resumed from a checkpoint sees
the same batches as an uninterrupted one. Under DDP each process takes an equal, disjoint share of the permutation.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, DistributedSampler
from torch.utils.data import Dataset as TorchDataset

from uqseg.data.contract import Split
from uqseg.errors import ConfigError, InputError


class SplitTorchDataset(TorchDataset):
    """Images and all annotators of one split as tensors (batch layout: docs/method.md §5, docs/conventions.md)."""

    def __init__(self, split: Split):
        if len(split) == 0:
            raise InputError(f"split {split.name!r} is empty; there is nothing to train on")
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        sample = self.split[index]
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
    split: Split, *, batch_size: int, seed: int, rank: int, world_size: int, num_workers: int, pin_memory: bool
) -> DataLoader:
    """The training DataLoader: epoch-seeded order, full batches only when the split allows, optional workers."""
    dataset = SplitTorchDataset(split)
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
