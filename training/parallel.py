"""Data-parallel training on one machine: one process per core, gradients averaged.

On the 2-core box one process with two torch threads was measured no faster than
one thread (the model's ops are small), while half a batch costs 47% of a whole
one: two processes, each with half of every batch and one thread, nearly halve a
step. Started by ``torchrun``, which sets ``WORLD_SIZE``/``RANK``; without it
everything here is a no-op, so a plain ``python -m training.train`` is unchanged.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["Group", "join"]


class Group:
    """This process's place in the group (rank 0 alone when not under torchrun)."""

    def __init__(self, rank: int = 0, world: int = 1) -> None:
        self.rank, self.world = rank, world

    @property
    def leader(self) -> bool:
        """The process that logs and writes the checkpoint."""
        return self.rank == 0

    def share(self, items: list[int]) -> list[int]:
        """This process's part of a batch (batches are length-sorted, so an
        interleaved split gives every process utterances of similar lengths)."""
        return items[self.rank :: self.world]

    def average_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Replace each gradient by its mean over the group, in one all-reduce."""
        if self.world == 1:
            return
        grads = [p.grad for p in parameters if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is set in any process (all stop at the same step)."""
        if self.world == 1:
            return flag
        t = torch.tensor([float(flag)])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def join() -> Group:
    """Join torchrun's process group over gloo (CPU), or stand alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Group()
    dist.init_process_group("gloo")
    return Group(dist.get_rank(), dist.get_world_size())
