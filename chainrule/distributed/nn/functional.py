"""Differentiable collectives, as torch.distributed.nn.functional: they return a new tensor and
send gradients back across the ranks (what SyncBatchNorm needs), where the plain collectives of
chainrule.distributed change a tensor in place and are not recorded."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.distributed.collectives import RedOpType, ReduceOp
from chainrule.distributed.process_group import _default_group
from chainrule.operands import as_operand
from chainrule.tensor import Tensor


class AllReduce(Function):
    """y = the sum (or mean, op=AVG) of x over all ranks, on every rank. Backward: the same
    reduction of the output gradients, since every rank's loss depends on every rank's x."""

    saves = ""

    def __init__(self, op: RedOpType, group: Any = None) -> None:
        self.op, self.group = op, group

    def forward(self, x: Any) -> Any:
        g = _default_group(self.group)
        host = x if isinstance(x, np.ndarray) else x.get()  # MPI reads host memory
        buf = np.array(host, copy=True, order="C")
        g.comm.Allreduce(g.MPI.IN_PLACE, buf, op=g.MPI.SUM)
        if self.op is RedOpType.AVG:
            buf /= g.size
        return buf if host is x else type(x)(buf)

    def backward(self, gy: Tensor) -> Tensor:
        return AllReduce(self.op, self.group)(gy)


def all_reduce(tensor: Tensor, op: Any = ReduceOp.SUM, group: Any = None) -> Tensor:
    """The reduction of tensor over all ranks as a new tensor, differentiable (SUM or AVG)."""
    if op not in (RedOpType.SUM, RedOpType.AVG):
        raise NotImplementedError(f"distributed.nn.functional.all_reduce: {op!r} has no "
                                  "gradient here; use ReduceOp.SUM or ReduceOp.AVG")
    return AllReduce(op, group)(as_operand(tensor))
