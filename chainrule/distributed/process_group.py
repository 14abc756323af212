"""The process group: one per process, over MPI's COMM_WORLD (the global state DESIGN.md names).

mpi4py is imported here, inside init_process_group, never when chainrule is imported: users who
do not install the extra (`pip install "chainrule[mpi]"`) pay nothing for it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import traceback
import warnings
from typing import Any

_NOT_INIT = ("Default process group has not been initialized, please make sure to call "
             "init_process_group.")


class _Group:
    """A process group: MPI's communicator, this process's rank in it and its size, and the
    global ranks of its members in group-rank order."""

    def __init__(self, comm: Any, mpi: Any, ranks: list[int] | None = None) -> None:
        self.comm, self.MPI = comm, mpi
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.ranks = list(range(self.size)) if ranks is None else list(ranks)


_group: _Group | None = None
_hooks_installed = False


class _World:
    def __repr__(self) -> str:
        return "<the default process group (all ranks)>"


class _NonMember:
    def __repr__(self) -> str:
        return "<GroupMember.NON_GROUP_MEMBER>"


class group:  # noqa: N801  (torch.distributed.group)
    """group.WORLD: the default group (all ranks); new_group() makes the others."""

    WORLD = _World()


class GroupMember(group):
    """What new_group returns on the ranks it leaves out: GroupMember.NON_GROUP_MEMBER."""

    NON_GROUP_MEMBER = _NonMember()


class ProcessGroup:
    """A group of ranks made by new_group(ranks): its own MPI communicator. rank() is this
    process's rank in the group (its index in the sorted ranks), size() the group's size."""

    def __init__(self, g: _Group) -> None:
        self._g: _Group | None = g

    def rank(self) -> int:
        return self._live().rank

    def size(self) -> int:
        return self._live().size

    def _live(self) -> _Group:
        if self._g is None:
            raise ValueError("this process group was destroyed (destroy_process_group(group))")
        return self._g

    def __repr__(self) -> str:
        ranks = "destroyed" if self._g is None else f"ranks={self._g.ranks}"
        return f"<ProcessGroup {ranks}>"


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
    """The _Group of pg (None or group.WORLD: the default group); ValueError for a rank that
    is not a member of pg."""
    if _group is None:
        raise ValueError(_NOT_INIT)
    if pg is None or pg is group.WORLD:
        return _group
    if isinstance(pg, ProcessGroup):
        return pg._live()
    if pg is GroupMember.NON_GROUP_MEMBER:
        raise ValueError(f"rank {_group.rank} is not a member of this group (new_group "
                         "returned GroupMember.NON_GROUP_MEMBER here)")
    raise TypeError(f"group must be None, group.WORLD or a group from new_group(ranks), got "
                    f"{pg!r}")


def _member_group(pg: Any, name: str) -> _Group | None:
    """pg's _Group, or None (with torch's warning) on a rank outside pg: the collective then
    does nothing there, as in PyTorch."""
    if pg is GroupMember.NON_GROUP_MEMBER:
        if _group is None:
            raise ValueError(_NOT_INIT)
        warnings.warn(f"Running {name} on global rank {_group.rank} which does not belong to "
                      "the given group.", stacklevel=3)
        return None
    return _default_group(pg)


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
    """Leave the default process group (and with it every group new_group made), or, given a
    group from new_group, free that one. MPI itself stays initialized (it cannot be started
    again in this process) and is finalized by mpi4py at exit."""
    global _group
    if _group is None:
        raise ValueError(_NOT_INIT)
    if isinstance(group, ProcessGroup):
        if group._g is not None:
            group._g.comm.Free()
            group._g = None
        _subgroups.discard(group)
        return
    if group is GroupMember.NON_GROUP_MEMBER:
        return
    for pg in list(_subgroups):
        destroy_process_group(pg)
    _group = None


_subgroups: set[ProcessGroup] = set()


def new_group(ranks: Any = None, timeout: Any = None, backend: Any = None,
              pg_options: Any = None, use_local_synchronization: bool = False,
              group_desc: str | None = None, device_id: Any = None,
              sort_ranks: bool = True) -> Any:
    """A group of the given global ranks (all of them when None), with its own communicator
    (MPI_Comm_split). Every rank of the default group must call it, members or not, in the
    same order; a rank outside `ranks` gets GroupMember.NON_GROUP_MEMBER. Group ranks follow
    the sorted ranks (the given order with sort_ranks=False)."""
    g = _default_group()
    if use_local_synchronization:
        raise ValueError("MPI backend doesn't support use_local_synchronization=True")
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"new_group: backend {backend!r} is not available in chainrule; "
                         "leave it out (the groups use MPI)")
    if ranks is None:
        ranks = list(range(g.size))
    else:
        ranks = [int(r) for r in ranks]
        if sort_ranks:
            ranks = sorted(ranks)
        if len(set(ranks)) != len(ranks):
            raise ValueError(f"ranks list must not contain duplicate entries, got {ranks}")
        if len(ranks) > g.size:
            raise ValueError("the new group's world size should be less or equal to the "
                             "world size set by init_process_group")
        for r in ranks:
            if r < 0 or r >= g.size:
                raise ValueError(f"Rank {r} is out of range. Valid ranks are 0 to {g.size - 1} "
                                 f"(world_size={g.size})")
    member = g.rank in ranks
    comm = g.comm.Split(0 if member else g.MPI.UNDEFINED, ranks.index(g.rank) if member else 0)
    if not member:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(_Group(comm, g.MPI, ranks))
    _subgroups.add(pg)
    return pg


def get_group_rank(group: Any, global_rank: int) -> int:
    """The rank in `group` of the process whose global rank is global_rank."""
    g = _default_group(group)
    if global_rank not in g.ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return g.ranks.index(global_rank)


def get_global_rank(group: Any, group_rank: int) -> int:
    """The global rank of the process whose rank in `group` is group_rank."""
    g = _default_group(group)
    if not 0 <= group_rank < g.size:
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return g.ranks[group_rank]


def get_process_group_ranks(group: Any) -> list[int]:
    """The global ranks of group's members, in group-rank order."""
    return list(_default_group(group).ranks)


def get_rank(group: Any = None) -> int:
    """This process's rank in group (the default group: 0 .. world_size - 1); -1 on a rank
    outside group."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return _default_group(group).rank


def get_world_size(group: Any = None) -> int:
    """The number of processes in the group; -1 on a rank outside group."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return _default_group(group).size


def get_backend(group: Any = None) -> str:
    """The backend's name: always 'mpi'."""
    if group is GroupMember.NON_GROUP_MEMBER:
        raise ValueError("Invalid process group specified")
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
    finally:
        end_job(g, 1)


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
    _install_exit_hooks()


# A rank that leaves with sys.exit(n), n != 0, while the others may wait in a collective must end
# the job too; Python tells an atexit handler neither the exit status nor the SystemExit, so
# sys.exit (and the exit / quit builtins) note the status on the way out.
_exit_status: Any = None


def _exit_code(status: Any) -> int:
    if status is None:
        return 0
    return status if isinstance(status, int) else 1  # sys.exit("message") exits with 1


def _install_exit_hooks() -> None:
    import atexit
    import builtins

    def noting(original: Any) -> Any:
        def exit(status: Any = None) -> None:  # noqa: A001  (sys.exit's own name)
            global _exit_status
            if threading.current_thread() is threading.main_thread():
                _exit_status = status
            original(status)
        exit.__doc__ = original.__doc__
        return exit

    sys.exit = noting(sys.exit)
    for name in ("exit", "quit"):
        if callable(getattr(builtins, name, None)):
            setattr(builtins, name, noting(getattr(builtins, name)))
    atexit.register(_abort_on_failed_exit)


def _abort_on_failed_exit() -> None:
    """At exit: sys.exit(n != 0) with the group still initialized ends every rank (MPI_Abort
    with status n) instead of leaving the others waiting forever in their next collective."""
    g, code = _group, _exit_code(_exit_status)
    if g is None or g.size == 1 or code == 0:
        return
    sys.stderr.write(f"chainrule.distributed: rank {g.rank} exited with status {code} "
                     f"(sys.exit) before destroy_process_group(); aborting the job (MPI_Abort) "
                     f"so that the other ranks do not wait forever.\n")
    end_job(g, code)


def end_job(g: _Group | None, code: int) -> None:
    """Flush this process's output, then end every process of the job (MPI_Abort) with exit
    status `code`; this process alone when it is not one of several."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    if g is not None and g.size > 1:
        # MPI_Abort has the launcher kill every rank at once; output still in the pipe to the
        # launcher can be lost with them (seen under load), so give it a moment to be read
        time.sleep(0.3)
        g.comm.Abort(code)
    os._exit(code)
