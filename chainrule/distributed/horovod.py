"""Horovod's two helpers, for code that averages gradients without the DDP wrapper:

    dist.broadcast_parameters(model.state_dict(), root_rank=0)     # everyone starts equal
    opt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1),
                                    named_parameters=model.named_parameters())
    loss.backward(); opt.step()     # step() averages the .grad arrays over ranks, then steps

The averaging runs in step(), in buckets of about 25 MB (one Allreduce each), so gradients
accumulated over several backward passes are averaged once. Given a closure (LBFGS), step()
averages the gradients and the loss after each evaluation of the closure instead.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterable, Iterator

import numpy as np

from chainrule.distributed.collectives import broadcast
from chainrule.distributed.process_group import _default_group
from chainrule.modes import no_grad
from chainrule.tensor import Tensor

_BUCKET_BYTES = 25 * 2 ** 20


def broadcast_parameters(params: Any, root_rank: int = 0) -> None:
    """Copy root_rank's tensors into every rank's, in place: a state_dict, (name, tensor)
    pairs as named_parameters() gives, or tensors."""
    items = params.items() if isinstance(params, dict) else params
    with no_grad():
        for item in items:
            t = item[1] if isinstance(item, tuple) else item
            if isinstance(t, Tensor):
                broadcast(t, src=root_rank)


def average_gradients(params: Iterable[Tensor]) -> None:
    """Replace each parameter's .grad by its mean over all ranks (a gradient missing on some
    ranks counts as zeros there; one missing on every rank stays missing)."""
    g = _default_group()
    ps = [p for p in params if p.requires_grad]
    if g.size == 1 or not ps:
        return
    has = np.array([p.grad is not None for p in ps], dtype=np.uint8)
    g.comm.Allreduce(g.MPI.IN_PLACE, has, op=g.MPI.MAX)
    ps = [p for p, h in zip(ps, has) if h]
    for bucket in _buckets(ps):
        flat = np.concatenate([np.zeros(p.array.size, p.array.dtype) if p.grad is None
                               else p.grad.array.reshape(-1) for p in bucket])
        flat /= g.size  # divided before the sum, as DistributedDataParallel does
        g.comm.Allreduce(g.MPI.IN_PLACE, flat, op=g.MPI.SUM)
        at = 0
        for p in bucket:
            avg = flat[at:at + p.array.size].reshape(p.array.shape)
            at += p.array.size
            if p.grad is None:
                p.grad = Tensor._make(avg.copy(), None)
            else:
                p.grad.array[...] = avg
                p.grad._bump()


def _mean_over_ranks(loss: Any) -> Any:
    """The mean over ranks of a closure's loss (a Tensor, detached, or a number)."""
    g = _default_group()
    if loss is None or g.size == 1:
        return loss
    if isinstance(loss, Tensor):
        buf = np.array(loss.detach().numpy(), copy=True, order="C")
        g.comm.Allreduce(g.MPI.IN_PLACE, buf, op=g.MPI.SUM)
        return Tensor._make(buf / g.size if buf.dtype.kind in "fc" else buf, None)
    return g.comm.allreduce(float(loss), op=g.MPI.SUM) / g.size


def _buckets(ps: list[Tensor]) -> Iterator[list[Tensor]]:
    """Runs of one dtype of about _BUCKET_BYTES each, in reverse order."""
    cur: list[Tensor] = []
    nbytes = 0
    for p in reversed(ps):
        if cur and (p.array.dtype != cur[0].array.dtype
                    or nbytes + p.array.nbytes > _BUCKET_BYTES):
            yield cur
            cur, nbytes = [], 0
        cur.append(p)
        nbytes += p.array.nbytes
    if cur:
        yield cur


class _Synchronized:
    """What DistributedOptimizer adds to an optimizer's class."""

    _skip_sync = False
    _synced = False

    def synchronize(self) -> None:
        average_gradients([p for group in self.param_groups for p in group["params"]])
        self._synced = True

    @contextlib.contextmanager
    def skip_synchronize(self) -> Iterator[None]:
        self._skip_sync = True
        try:
            yield
        finally:
            self._skip_sync = False

    def step(self, closure: Any = None) -> Any:
        if closure is not None and not self._skip_sync:
            # a closure-based optimizer (LBFGS) evaluates it several times per step and decides
            # on the loss it returns: each evaluation's gradients and loss are averaged, so that
            # every rank takes the same decisions (local losses would desynchronize the ranks)
            self._synced = False
            return super().step(self._averaging(closure))
        if not self._skip_sync and not self._synced:
            self.synchronize()
        self._synced = False
        return super().step(closure) if closure is not None else super().step()

    def _averaging(self, closure: Any) -> Any:
        def averaged() -> Any:
            loss = closure()
            self.synchronize()
            self._synced = False
            return _mean_over_ranks(loss)
        return averaged


def DistributedOptimizer(optimizer: Any, named_parameters: Any = None,
                         backward_passes_per_step: int = 1, **kwargs: Any) -> Any:
    """Horovod's wrapper: `optimizer` (still an instance of its class, sharing its state) whose
    step() first averages the gradients over all ranks. synchronize() averages now, to clip the
    averaged gradients before stepping inside `with opt.skip_synchronize():`."""
    base = type(optimizer)
    cls = type(base.__name__, (_Synchronized, base), {"__module__": base.__module__})
    wrapped = object.__new__(cls)
    wrapped.__dict__.update(optimizer.__dict__)  # the same param_groups and state objects
    return wrapped
