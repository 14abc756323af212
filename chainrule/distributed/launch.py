"""Is this process one of an MPI job? Read from the launcher's environment, without MPI.

mpiexec (MPICH's Hydra, Intel MPI), `srun --mpi=pmi2` and Open MPI's mpirun each tell their
processes their rank and the job's size through environment variables; reading them costs
nothing, so a command can decide whether to join a process group without importing mpi4py
(which a plain `chainrule train` must never import).
"""

from __future__ import annotations

import os

# (rank variable, size variable) of the launchers we know; PMIx gives no size: mpi4py tells it
_LAUNCHERS = (("PMI_RANK", "PMI_SIZE"),                                 # MPICH, Intel MPI, pmi2
              ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),         # Open MPI
              ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),           # MVAPICH
              ("PMIX_RANK", None))                                      # srun --mpi=pmix


def launcher_rank_size() -> tuple[int, int | None] | None:
    """(rank, world size) as the MPI launcher set them for this process (size None when the
    launcher does not say it); None when no MPI launcher started this process."""
    for rank_var, size_var in _LAUNCHERS:
        rank = os.environ.get(rank_var)
        if rank is None:
            continue
        size = os.environ.get(size_var) if size_var else None
        try:
            return int(rank), (int(size) if size is not None else None)
        except ValueError:
            continue
    return None


def launched_by_mpi() -> bool:
    """Whether an MPI launcher started this process as one of a job of (possibly) several."""
    found = launcher_rank_size()
    return found is not None and found[1] != 1


def launcher_rank() -> int:
    """This process's rank from the launcher's environment; 0 when not launched by MPI."""
    found = launcher_rank_size()
    return 0 if found is None else found[0]


def abort_job(code: int = 1) -> None:
    """End every process of the job with exit status `code` (MPI_Abort) once the output is
    flushed: a process that merely exits leaves the others waiting forever in their next
    collective. Exits this process alone when no group of several processes is initialized."""
    from chainrule.distributed import process_group as pg

    pg.end_job(pg._group, code)
