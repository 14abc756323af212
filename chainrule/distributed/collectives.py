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

from chainrule.distributed.process_group import _Group, _member_group
from chainrule.distributed.process_group import group as _pg
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
    g = _member_group(group, "all_reduce")
    if g is None:
        return None
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


def _root(g: _Group, pg: Any, r: Any, group_r: Any, name: str, what: str,
          default: int | None = None) -> int:
    """The root's rank in the group, from a global rank r (as PyTorch: `src`/`dst` are global
    ranks whatever the group) or a group rank group_r."""
    if r is not None and group_r is not None:
        raise ValueError(f"{name}: Can't specify both group_rank and global_rank: pass {what}= "
                         f"(a global rank) or group_{what}= (a rank in the group), not both")
    if group_r is None:
        if r is None and default is None:
            role = "sends" if what == "src" else "receives"
            raise ValueError(f"{name}: pass {what}= (the rank that {role})")
        r = default if r is None else r
        if isinstance(r, (int, np.integer)) and pg is not None and pg is not _pg.WORLD:
            if r not in g.ranks:
                raise ValueError(f"{name}: Global rank {r} is not part of group {pg} (its "
                                 f"ranks are {g.ranks}); pass group_{what}= for a rank in "
                                 "the group")
            return g.ranks.index(int(r))
    else:
        r = group_r
    if not isinstance(r, (int, np.integer)) or not 0 <= r < g.size:
        raise RuntimeError(f"{name}: invalid root rank: {r} (group size {g.size})")
    return int(r)


def broadcast(tensor: Tensor, src: int | None = None, group: Any = None, async_op: bool = False,
              group_src: int | None = None) -> Work | None:
    """Copy rank src's tensor into tensor on every rank, in place."""
    g = _member_group(group, "broadcast")
    if g is None:
        return None
    src = _root(g, group, src, group_src, "broadcast", "src")
    buf = _host(tensor, "broadcast")
    req = g.comm.Ibcast(buf, root=src) if async_op else None
    if req is None:
        g.comm.Bcast(buf, root=src)
    return _done(req, lambda: _store(tensor, buf, "broadcast"), async_op)


def all_gather(tensor_list: Sequence[Tensor], tensor: Tensor, group: Any = None,
               async_op: bool = False) -> Work | None:
    """tensor_list[i] <- rank i's tensor, on every rank; tensor_list holds world_size tensors
    of tensor's shape and dtype."""
    g = _member_group(group, "all_gather")
    if g is None:
        return None
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
    g = _member_group(group, "reduce")
    if g is None:
        return None
    dst = _root(g, group, dst, group_dst, "reduce", "dst")
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
    g = _member_group(group, "barrier")
    if g is None:
        return None
    g.comm.Barrier()
    return _done(None, lambda: None, async_op)


def _same_list(ts: Sequence[Tensor], buf: np.ndarray, size: int, name: str, arg: str) -> None:
    if len(ts) != size:
        raise RuntimeError(f"{name}: {arg} must hold one tensor per rank of the group "
                           f"(expected length {size}, got {len(ts)})")
    for i, t in enumerate(ts):
        if not isinstance(t, Tensor) or tuple(t.shape) != buf.shape or t.dtype != buf.dtype:
            got = (tuple(t.shape), t.dtype) if isinstance(t, Tensor) else type(t).__name__
            raise RuntimeError(f"{name}: invalid tensor at index {i} of {arg} (expected "
                               f"{buf.shape} {buf.dtype}, got {got})")


def gather(tensor: Tensor, gather_list: Sequence[Tensor] | None = None, dst: int | None = None,
           group: Any = None, async_op: bool = False,
           group_dst: int | None = None) -> Work | None:
    """gather_list[i] <- group rank i's tensor, on rank dst (global rank; 0 by default) alone;
    gather_list is given on dst only (world_size tensors of tensor's shape and dtype)."""
    g = _member_group(group, "gather")
    if g is None:
        return None
    root = _root(g, group, dst, group_dst, "gather", "dst", default=0)
    buf = _host(tensor, "gather")
    if root == g.rank:
        if not gather_list:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        _same_list(gather_list, buf, g.size, "gather", "gather_list")
        out = np.empty((g.size,) + buf.shape, dtype=buf.dtype)
        g.comm.Gather(buf, out, root=root)
        for i, t in enumerate(gather_list):
            _store(t, out[i], "gather")
    else:
        if gather_list:
            raise ValueError("Argument ``gather_list`` must NOT be specified on "
                             "non-destination ranks.")
        g.comm.Gather(buf, None, root=root)
    return _done(None, lambda: None, async_op)


def scatter(tensor: Tensor, scatter_list: Sequence[Tensor] | None = None,
            src: int | None = None, group: Any = None, async_op: bool = False,
            group_src: int | None = None) -> Work | None:
    """tensor <- scatter_list[i] on group rank i, the list given on rank src (global rank; 0
    by default) alone."""
    g = _member_group(group, "scatter")
    if g is None:
        return None
    root = _root(g, group, src, group_src, "scatter", "src", default=0)
    buf = _host(tensor, "scatter")
    if root == g.rank:
        if not scatter_list:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        _same_list(scatter_list, buf, g.size, "scatter", "scatter_list")
        send = np.stack([_host(t, "scatter", "scatter_list") for t in scatter_list])
    else:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source "
                             "ranks.")
        send = None
    g.comm.Scatter(send, buf, root=root)
    _store(tensor, buf, "scatter")
    return _done(None, lambda: None, async_op)


def reduce_scatter(output: Tensor, input_list: Sequence[Tensor], op: Any = ReduceOp.SUM,
                   group: Any = None, async_op: bool = False) -> Work | None:
    """output <- the reduction over ranks of each rank's input_list[r], on group rank r."""
    g = _member_group(group, "reduce_scatter")
    if g is None:
        return None
    buf = _host(output, "reduce_scatter", "output")
    _same_list(input_list, buf, g.size, "reduce_scatter", "input_list")
    send = np.stack([_host(t, "reduce_scatter", "input_list") for t in input_list])
    _reduce_scatter(g, op, send, buf, "reduce_scatter")
    _store(output, buf, "reduce_scatter")
    return _done(None, lambda: None, async_op)


def _reduce_scatter(g: _Group, op: Any, send: np.ndarray, buf: np.ndarray, name: str) -> None:
    mpi_op = _mpi_op(g, op, send, name)
    g.comm.Reduce_scatter_block(np.ascontiguousarray(send), buf, op=mpi_op)
    if op is RedOpType.AVG:
        buf[...] /= g.size


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group: Any = None,
                           async_op: bool = False) -> Work | None:
    """output_tensor <- every rank's input_tensor, in rank order: either concatenated along
    dim 0 (output shape (world_size * n, ...)) or stacked (shape (world_size, n, ...))."""
    g = _member_group(group, "all_gather_into_tensor")
    if g is None:
        return None
    buf = _host(input_tensor, "all_gather_into_tensor", "input_tensor")
    out = _host(output_tensor, "all_gather_into_tensor", "output_tensor")
    if out.dtype != buf.dtype or out.size != buf.size * g.size:
        raise ValueError(f"all_gather_into_tensor: output tensor size must be equal to "
                         f"world_size times input tensor size (output {out.shape} {out.dtype}, "
                         f"input {buf.shape} {buf.dtype}, world size {g.size})")
    flat = np.empty(out.size, dtype=out.dtype)
    g.comm.Allgather(buf.reshape(-1), flat)
    _store(output_tensor, flat.reshape(out.shape), "all_gather_into_tensor")
    return _done(None, lambda: None, async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op: Any = ReduceOp.SUM,
                          group: Any = None, async_op: bool = False) -> Work | None:
    """output <- the reduction over ranks of rank r's part of input (input is world_size
    parts along dim 0, concatenated or stacked), on group rank r."""
    g = _member_group(group, "reduce_scatter_tensor")
    if g is None:
        return None
    buf = _host(output, "reduce_scatter_tensor", "output")
    send = _host(input, "reduce_scatter_tensor", "input")
    if send.dtype != buf.dtype or send.size != buf.size * g.size:
        raise ValueError(f"reduce_scatter_tensor: input tensor must be the same size as "
                         f"output size times world size (input {send.shape} {send.dtype}, "
                         f"output {buf.shape} {buf.dtype}, world size {g.size})")
    _reduce_scatter(g, op, send.reshape(g.size, -1), buf.reshape(-1), "reduce_scatter_tensor")
    _store(output, buf, "reduce_scatter_tensor")
    return _done(None, lambda: None, async_op)
