"""Data-parallel training over MPI, shaped like torch.distributed.

    import chainrule.distributed as dist
    dist.init_process_group(backend="mpi")        # launched with: mpiexec -n 4 python train.py
    dist.all_reduce(t, op=dist.ReduceOp.SUM)      # in place on every rank

mpi4py (`pip install "chainrule[mpi]"`) is imported by init_process_group, not by this module.
"""

from chainrule.distributed.collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    reduce,
)
from chainrule.distributed.horovod import (
    DistributedOptimizer,
    average_gradients,
    broadcast_parameters,
)
from chainrule.distributed.process_group import (
    GroupMember,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
)

__all__ = [
    "DistributedOptimizer", "average_gradients", "broadcast_parameters",
    "ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast", "reduce",
    "GroupMember", "group", "destroy_process_group", "get_backend", "get_rank",
    "get_world_size", "init_process_group",
    "is_available", "is_initialized", "is_mpi_available",
]
