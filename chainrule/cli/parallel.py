"""`mpiexec -n 4 chainrule train ...`: the processes that train one model together.

Every rank draws the same global batches (the loader's generator is seeded alike everywhere),
takes its own contiguous slice of each, and DistributedDataParallel averages the gradients, so
the step is the one a single process takes on the whole global batch: `--batch-size` stays the
global batch. Batch-norm layers become SyncBatchNorm (statistics of the global batch). Each
rank's loss is scaled by its share of the batch, so uneven slices (a last batch that does not
divide evenly) still give the global mean's gradient. Only rank 0 writes the run folder; the
checkpoint holds the bare model, so it resumes under any number of processes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import nn
from chainrule.backend import default_generator


class World:
    """This process's rank among `size` processes training together (rank 0 of 1 alone)."""

    def __init__(self, rank: int = 0, size: int = 1) -> None:
        self.rank, self.size = rank, size

    @classmethod
    def join(cls) -> World:
        """Join the MPI job that launched this process (init_process_group('mpi')), or the
        world of this one process when no MPI launcher started it (mpi4py stays unimported)."""
        from chainrule.distributed.launch import launched_by_mpi

        if not launched_by_mpi():
            return cls()
        from chainrule import distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("mpi")
        return cls(dist.get_rank(), dist.get_world_size())

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def writes(self) -> bool:
        """Whether this process writes the run folder and prints (rank 0 only)."""
        return self.rank == 0

    def bounds(self, n: int) -> tuple[int, int]:
        """This rank's slice [lo, hi) of a global batch of n examples (sizes differ by <= 1)."""
        return n * self.rank // self.size, n * (self.rank + 1) // self.size

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module that training calls: `model` itself alone; with several processes
        DistributedDataParallel around it, its batch norms made SyncBatchNorm in place (the
        parameters and buffers stay model's, so its state_dict keeps its keys)."""
        if not self.distributed:
            return model
        from chainrule.nn import SyncBatchNorm
        from chainrule.nn.parallel import DistributedDataParallel

        model = SyncBatchNorm.convert_sync_batchnorm(model)
        # SyncBatchNorm keeps the running statistics equal on every rank: no per-step broadcast
        return DistributedDataParallel(model, broadcast_buffers=False)

    def split_generators(self) -> None:
        """Give rank r > 0 its own stream of the default generator (r jumps ahead of rank 0's),
        so that dropout masks differ between ranks; rank 0 keeps the single-process stream."""
        if self.rank == 0:
            return
        bits = default_generator().bit_generator
        if hasattr(bits, "jumped"):
            bits.state = bits.jumped(self.rank).state

    def sum(self, values: list[float]) -> np.ndarray:
        """The element-wise sum over ranks of `values` (float64), bit for bit the same on every
        rank: gathered and added in rank order (an Allreduce may round differently on
        different ranks, and a plateau schedule or the best epoch decided on such a number
        could then differ between them)."""
        a = np.asarray(values, dtype=np.float64)
        if not self.distributed:
            return a
        from chainrule.distributed import process_group as pg

        g = pg._default_group()
        every = np.empty((self.size, a.size), dtype=np.float64)
        g.comm.Allgather(a, every)
        return every.sum(axis=0)

    def abort(self, code: int) -> None:
        """End every process of a job of several (a rank that merely exits leaves the others
        waiting in their next collective); nothing when alone."""
        if self.distributed:
            from chainrule.distributed.launch import abort_job

            abort_job(code)


def global_loss(value: float, n_local: int, n_global: int, world: World) -> Any:
    """The loss of the whole global batch from this rank's mean loss on its n_local examples."""
    return float(world.sum([value * n_local])[0] / max(n_global, 1))
