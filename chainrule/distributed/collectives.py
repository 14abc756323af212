"""Collectives on tensors, in place, as torch.distributed's: all_reduce, broadcast, all_gather,
reduce, barrier. Arrays travel through MPI's buffer interface (never pickled); a result is
written into the tensor through chainrule's in-place machinery, so its version counter moves
(an op that saved the tensor for backward then refuses to use the changed value). Collectives
are not recorded by autograd, as in PyTorch (torch.distributed.nn has the differentiable ones).
"""

from __future__ import annotations

import enum
from typing import Any, Callable, Sequence

import numpy as np

from chainrule.distributed.process_group import _default_group, _Group
from chainrule.inplace import apply, write
from chainrule.modes import no_grad
from chainrule.tensor import Tensor


class RedOpType(enum.Enum):
    """The reduction of a collective; spelled ReduceOp.SUM, ... as in torch.distributed."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7

    def __repr__(self) -> str:
        return f"<RedOpType.{self.name}: {self.value}>"


class ReduceOp:
    """torch.distributed.ReduceOp: SUM, AVG (the sum divided by the world size; floating
    tensors), PRODUCT, MIN, MAX, and BAND / BOR / BXOR (integer and bool tensors)."""

    RedOpType = RedOpType
    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR


def _mpi_op(g: _Group, op: Any, a: np.ndarray, name: str) -> Any:
    if not isinstance(op, RedOpType):
        raise TypeError(f"{name}: op must be a dist.ReduceOp (ReduceOp.SUM, ...), got {op!r}")
    M = g.MPI
    if op in (RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR) and a.dtype.kind not in "iub":
        raise RuntimeError(f"{name}: ReduceOp.{op.name} needs an integer or bool tensor, got "
                           f"{a.dtype}")
    if op is RedOpType.AVG and a.dtype.kind not in "fc":
        raise RuntimeError(f"{name}: ReduceOp.AVG needs a floating tensor, got {a.dtype}; use "
                           "SUM and divide")
    if a.dtype.kind == "b":  # MPI reduces C bools only with the logical ops
        return {RedOpType.SUM: M.LOR, RedOpType.MAX: M.LOR, RedOpType.BOR: M.LOR,
                RedOpType.PRODUCT: M.LAND, RedOpType.MIN: M.LAND, RedOpType.BAND: M.LAND,
                RedOpType.BXOR: M.LXOR}[op]
    return {RedOpType.SUM: M.SUM, RedOpType.AVG: M.SUM, RedOpType.PRODUCT: M.PROD,
            RedOpType.MIN: M.MIN, RedOpType.MAX: M.MAX, RedOpType.BAND: M.BAND,
            RedOpType.BOR: M.BOR, RedOpType.BXOR: M.BXOR}[op]


class Work:
    """The handle an `async_op=True` collective returns: wait() finishes it (the tensor holds
    the result afterwards) and returns True."""

    def __init__(self, request: Any = None, finish: Callable[[], None] | None = None) -> None:
        self._request, self._finish = request, finish

    def wait(self, timeout: Any = None) -> bool:
        if self._request is not None:
            self._request.Wait()
            self._request = None
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()
        return True

    def is_completed(self) -> bool:
        if self._request is not None and not self._request.Test():
            return False
        return True

    def is_success(self) -> bool:
        return self.is_completed()


def _host(t: Any, name: str, arg: str = "tensor") -> np.ndarray:
    """t's values as one C-contiguous NumPy array (t's own array when it already is one)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: {arg} must be a Tensor, got {type(t).__name__}")
    a = t.array
    if not isinstance(a, np.ndarray):  # a device array: MPI reads host memory, once, here
        a = a.get()
    return a if a.flags.c_contiguous and a.flags.writeable else np.ascontiguousarray(a)


def _store(t: Tensor, buf: np.ndarray, name: str) -> None:
    """Write buf into t in place (a no-op copy when buf is t's array) and bump t's version."""
    def fast() -> None:
        if buf is not t.array:
            write(t, buf if isinstance(t.array, np.ndarray) else type(t.array)(buf))

    with no_grad():
        apply(t, name, lambda: t, (), fast)


def _done(request: Any, finish: Callable[[], None], async_op: bool) -> Work | None:
    work = Work(request, finish)
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor: Tensor, op: Any = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Reduce tensor over all ranks with op, in place on every rank (same shape everywhere).
    Returns None, or a Work to wait() on with async_op=True."""
    g = _default_group(group)
    buf = _host(tensor, "all_reduce")
    mpi_op = _mpi_op(g, op, buf, "all_reduce")

    def finish() -> None:
        if op is RedOpType.AVG:
            buf[...] /= g.size
        _store(tensor, buf, "all_reduce")

    req = g.comm.Iallreduce(g.MPI.IN_PLACE, buf, op=mpi_op) if async_op else None
    if req is None:
        g.comm.Allreduce(g.MPI.IN_PLACE, buf, op=mpi_op)
    return _done(req, finish, async_op)


def _check_rank(g: _Group, r: Any, name: str, what: str) -> int:
    if r is None:
        role = "sends" if what == "src" else "receives"
        raise ValueError(f"{name}: pass {what}= (the rank that {role})")
    if not isinstance(r, (int, np.integer)) or not 0 <= r < g.size:
        raise RuntimeError(f"{name}: invalid root rank: {r} (world size {g.size})")
    return int(r)


def broadcast(tensor: Tensor, src: int | None = None, group: Any = None, async_op: bool = False,
              group_src: int | None = None) -> Work | None:
    """Copy rank src's tensor into tensor on every rank, in place."""
    g = _default_group(group)
    src = _check_rank(g, src if src is not None else group_src, "broadcast", "src")
    buf = _host(tensor, "broadcast")
    req = g.comm.Ibcast(buf, root=src) if async_op else None
    if req is None:
        g.comm.Bcast(buf, root=src)
    return _done(req, lambda: _store(tensor, buf, "broadcast"), async_op)


def all_gather(tensor_list: Sequence[Tensor], tensor: Tensor, group: Any = None,
               async_op: bool = False) -> Work | None:
    """tensor_list[i] <- rank i's tensor, on every rank; tensor_list holds world_size tensors
    of tensor's shape and dtype."""
    g = _default_group(group)
    buf = _host(tensor, "all_gather")
    if len(tensor_list) != g.size:
        raise RuntimeError(f"all_gather: invalid output tensor list (expected length {g.size}, "
                           f"got {len(tensor_list)})")
    for i, t in enumerate(tensor_list):
        if not isinstance(t, Tensor) or tuple(t.shape) != buf.shape or t.dtype != buf.dtype:
            got = (tuple(t.shape), t.dtype) if isinstance(t, Tensor) else type(t).__name__
            raise RuntimeError(f"all_gather: invalid tensor at index {i} (expected "
                               f"{buf.shape} {buf.dtype}, got {got})")
    out = np.empty((g.size,) + buf.shape, dtype=buf.dtype)
    g.comm.Allgather(buf, out)
    for i, t in enumerate(tensor_list):
        _store(t, out[i], "all_gather")
    return _done(None, lambda: None, async_op)


def reduce(tensor: Tensor, dst: int | None = None, op: Any = ReduceOp.SUM, group: Any = None,
           async_op: bool = False, group_dst: int | None = None) -> Work | None:
    """Reduce tensor over all ranks with op into rank dst's tensor (the others keep theirs)."""
    g = _default_group(group)
    dst = _check_rank(g, dst if dst is not None else group_dst, "reduce", "dst")
    buf = _host(tensor, "reduce")
    mpi_op = _mpi_op(g, op, buf, "reduce")
    if g.rank == dst:
        g.comm.Reduce(g.MPI.IN_PLACE, buf, op=mpi_op, root=dst)
        if op is RedOpType.AVG:
            buf[...] /= g.size
        _store(tensor, buf, "reduce")
    else:
        g.comm.Reduce(buf, None, op=mpi_op, root=dst)
    return _done(None, lambda: None, async_op)


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None,
            timeout: Any = None) -> Work | None:
    """Wait until every rank has reached this call."""
    _default_group(group).comm.Barrier()
    return _done(None, lambda: None, async_op)
