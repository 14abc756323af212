"""The process group: one per process, over MPI's COMM_WORLD (the global state DESIGN.md names).

mpi4py is imported here, inside init_process_group, never when chainrule is imported: users who
do not install the extra (`pip install "chainrule[mpi]"`) pay nothing for it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import traceback
from typing import Any

_NOT_INIT = ("Default process group has not been initialized, please make sure to call "
             "init_process_group.")


class _Group:
    """The default process group: MPI's communicator, this process's rank and the world size."""

    def __init__(self, comm: Any, mpi: Any) -> None:
        self.comm, self.MPI = comm, mpi
        self.rank, self.size = comm.Get_rank(), comm.Get_size()


_group: _Group | None = None
_hooks_installed = False


class _World:
    def __repr__(self) -> str:
        return "<the default process group (all ranks)>"


class group:  # noqa: N801  (torch.distributed.group)
    """group.WORLD: the default group, which is the only group chainrule has."""

    WORLD = _World()


GroupMember = group


def is_available() -> bool:
    """Whether collectives can run here: mpi4py is installed (it is not imported by this)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    """Whether the MPI backend is available (torch.distributed.is_mpi_available)."""
    return is_available()


def is_initialized() -> bool:
    """Whether init_process_group has been called (and destroy_process_group has not since)."""
    return _group is not None


def _default_group(pg: Any = None) -> _Group:
    if _group is None:
        raise ValueError(_NOT_INIT)
    if pg is not None and pg is not group.WORLD:
        raise NotImplementedError(f"chainrule.distributed has only the default process group; "
                                  f"pass group=None (got {pg!r})")
    return _group


def _import_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            "init_process_group(backend='mpi') needs mpi4py and an MPI library: "
            'pip install "chainrule[mpi]" (mpi4py and the MPICH wheel), then launch with '
            "mpiexec -n 4 python script.py") from e
    return MPI


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: Any = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None,
                       device_id: Any = None) -> None:
    """Join the default process group, as torch.distributed.init_process_group(backend="mpi"):
    the rank and world size come from the MPI launcher (`mpiexec -n 4 python train.py`; run
    without mpiexec, the world is this one process). world_size= and rank=, when given, must
    agree with the launcher's. Installs sys.excepthook and threading.excepthook so that an
    exception on any rank prints the rank and the traceback once and aborts the whole job
    (MPI_Abort) instead of leaving the other ranks waiting forever."""
    global _group
    name = "mpi" if backend is None else str(backend).lower()
    if name != "mpi":
        if name in ("gloo", "nccl", "ucc", "xccl", "cpu:gloo,cuda:nccl"):
            raise RuntimeError(
                f"init_process_group: backend {backend!r} is not available in chainrule; use "
                "backend='mpi' and launch with mpiexec (pip install \"chainrule[mpi]\")")
        raise ValueError(f"init_process_group: invalid backend {backend!r}; chainrule has "
                         "backend='mpi' (launch with mpiexec)")
    if _group is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if init_method is not None and not str(init_method).startswith("env://"):
        raise ValueError(f"init_process_group: init_method={init_method!r} is not used by the "
                         "MPI backend (mpiexec starts the processes); leave it out")
    MPI = _import_mpi()
    comm = MPI.COMM_WORLD
    g = _Group(comm, MPI)
    for arg, value, actual in (("world_size", world_size, g.size), ("rank", rank, g.rank)):
        if value is not None and value != -1 and value != actual:
            raise ValueError(f"init_process_group: {arg}={value} but the MPI launcher gives "
                             f"{actual}; leave {arg} out (mpiexec -n N sets it)")
    _group = g
    _install_abort_hooks()


def destroy_process_group(group: Any = None) -> None:
    """Leave the default process group. MPI itself stays initialized (it cannot be started
    again in this process) and is finalized by mpi4py at exit."""
    global _group
    if _group is None:
        raise ValueError(_NOT_INIT)
    _group = None


def get_rank(group: Any = None) -> int:
    """This process's rank, 0 .. world_size - 1."""
    return _default_group(group).rank


def get_world_size(group: Any = None) -> int:
    """The number of processes in the group."""
    return _default_group(group).size


def get_backend(group: Any = None) -> str:
    """The backend's name: always 'mpi'."""
    _default_group(group)
    return "mpi"


# -- failure never hangs ------------------------------------------------------------------------
def _abort(kind: str, exc_type: Any, exc: Any, tb: Any) -> None:
    """Print the rank and the traceback once, then end every process of the job."""
    g = _group
    rank = g.rank if g is not None else "?"
    try:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(f"chainrule.distributed: rank {rank} raised {kind}; aborting the "
                         f"job (MPI_Abort) so that the other ranks do not wait forever.\n"
                         f"{text}")
        sys.stderr.flush()
        sys.stdout.flush()
    finally:
        if g is not None and g.size > 1:
            g.comm.Abort(1)
        os._exit(1)


def _install_abort_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous = sys.excepthook

    def excepthook(exc_type: Any, exc: Any, tb: Any) -> None:
        if _group is None or _group.size == 1:  # alone: Python's own report and exit code
            previous(exc_type, exc, tb)
            return
        _abort("an exception", exc_type, exc, tb)

    def thread_hook(args: Any) -> None:
        if _group is None or _group.size == 1 or args.exc_type is SystemExit:
            threading.__excepthook__(args)
            return
        _abort(f"an exception in thread {args.thread.name if args.thread else '?'}",
               args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = excepthook
    threading.excepthook = thread_hook
