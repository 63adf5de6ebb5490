"""Data-parallel training over several processes (one per GPU, or CPU processes with gloo).

Launch with `torchrun --nproc_per_node=G ...` (which sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT); `init_from_env` joins the process group, and the Trainer notices the group and

- wraps the model in DistributedDataParallel, so gradients are averaged across processes every step;
- gives each process its own shard of every epoch (`ShardedEpochSampler`, resumable like the
  single-process sampler: the order depends only on seed and epoch);
- validates and writes checkpoints on rank 0 only, and takes every stop decision (early stopping, the
  time budget, cancellation) on rank 0 and broadcasts it, so all ranks leave the loop at the same step.

With WORLD_SIZE unset or 1, nothing here changes a single-process run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sized
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Sampler


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def current() -> DistInfo:
    """This process's place in the group (rank 0 of 1 when no group is initialised)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return DistInfo()


def init_from_env(backend: str | None = None) -> DistInfo:
    """Join the process group torchrun describes in the environment; a no-op for a single process.

    The backend is NCCL when CUDA is available, else gloo. On CUDA, each process takes GPU LOCAL_RANK.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    missing = [name for name in ("RANK", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise RuntimeError(f"WORLD_SIZE={world} but {', '.join(missing)} not set: launch with torchrun")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return current()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_flag(flag: bool, device: torch.device) -> bool:
    """Rank 0's value of `flag` on every rank (itself when there is no group)."""
    info = current()
    if not info.active:
        return flag
    tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.broadcast(tensor, src=0)
    return bool(tensor.item())


@torch.no_grad()
def broadcast_state(module: torch.nn.Module) -> None:
    """Overwrite every rank's parameters and buffers with rank 0's."""
    if current().active:
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)


def barrier() -> None:
    if current().active:
        dist.barrier()


class ShardedEpochSampler(Sampler[int]):
    """Each rank's share of an epoch: the (seed, epoch) permutation, padded by wrapping around to a multiple
    of the world size, then every `world_size`-th index from `rank`. Every rank sees as many samples, so
    every rank takes as many steps; `set_start` skips part of an epoch for a resume."""

    def __init__(self, n: int, rank: int, world_size: int, seed: int = 0, shuffle: bool = True) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside a world of {world_size}")
        if n == 0:
            raise ValueError("cannot shard an empty dataset")
        self.n, self.rank, self.world_size, self.seed, self.shuffle = n, rank, world_size, seed, shuffle
        self.per_rank = math.ceil(n / world_size)
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.start = epoch, 0

    def set_start(self, start: int) -> None:
        """Skip the first `start` of this rank's samples of the current epoch (for one epoch)."""
        self.start = start

    def __iter__(self) -> Iterator[int]:
        from ml.training.trainer import epoch_order  # the trainer imports this module

        order = epoch_order(self.n, self.seed, self.epoch, self.shuffle)
        total = self.per_rank * self.world_size
        padded = (order * math.ceil(total / self.n))[:total]
        return iter(padded[self.rank :: self.world_size][self.start :])

    def __len__(self) -> int:
        return self.per_rank - self.start


def make_sharded_loader(
    dataset: Dataset[Any], batch_size: int, *, seed: int = 0, shuffle: bool = True, drop_last: bool = False
) -> DataLoader[Any]:
    """`make_loader`'s counterpart for data-parallel training: this rank's shard, resumable."""
    assert isinstance(dataset, Sized)
    info = current()
    sampler = ShardedEpochSampler(len(dataset), info.rank, info.world_size, seed=seed, shuffle=shuffle)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last, num_workers=0)
