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
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    gather,
    reduce,
    reduce_scatter,
    reduce_scatter_tensor,
    scatter,
)
from chainrule.distributed.horovod import (
    DistributedOptimizer,
    average_gradients,
    broadcast_parameters,
)
from chainrule.distributed.objects import (
    all_gather_object,
    broadcast_object_list,
    gather_object,
    scatter_object_list,
)
from chainrule.distributed.process_group import (
    GroupMember,
    ProcessGroup,
    destroy_process_group,
    get_backend,
    get_global_rank,
    get_group_rank,
    get_process_group_ranks,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    new_group,
)

__all__ = [
    "DistributedOptimizer", "average_gradients", "broadcast_parameters",
    "ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast", "reduce",
    "all_gather_into_tensor", "gather", "reduce_scatter", "reduce_scatter_tensor", "scatter",
    "all_gather_object", "broadcast_object_list", "gather_object", "scatter_object_list",
    "GroupMember", "ProcessGroup", "group", "destroy_process_group", "get_backend", "get_rank",
    "get_world_size", "init_process_group", "new_group", "get_global_rank", "get_group_rank",
    "get_process_group_ranks",
    "is_available", "is_initialized", "is_mpi_available",
]
