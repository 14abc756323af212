"""chainrule.linalg, PyTorch's torch.linalg: norms (norm, vector_norm, matrix_norm), inv, det,
slogdet, solve, cholesky, matrix_power, cross, and the conveniences matmul, diagonal, multi_dot
and vecdot. Every function is differentiable to any order (see chainrule.ops.decompositions,
ops.norms and ops.linalg_more)."""

from __future__ import annotations

from functools import reduce
from typing import Any, Sequence

from chainrule.operands import as_operand
from chainrule.ops.decompositions import cholesky, det, inv, slogdet, solve
from chainrule.ops.diag import diagonal as _diagonal
from chainrule.ops.linalg import matmul
from chainrule.ops.linalg_more import linalg_cross as cross
from chainrule.ops.linalg_more import matrix_power
from chainrule.ops.norms import linalg_norm as norm
from chainrule.ops.norms import matrix_norm, vector_norm
from chainrule.tensor import Tensor

__all__ = ["cholesky", "det", "diagonal", "inv", "matmul", "matrix_norm", "multi_dot", "norm",
           "slogdet", "solve", "vecdot", "vector_norm"]
__all__ += ["cross", "matrix_power"]


def diagonal(A: Any, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The offset-th diagonal of the matrices in the last two dims (a view)."""
    return _diagonal(A, offset, dim1, dim2)


def multi_dot(tensors: Sequence[Any]) -> Tensor:
    """The product of two or more matrices (the first may be a row vector, the last a column
    vector, each 1-D), left to right."""
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    ts = [as_operand(t) for t in tensors]
    for k, t in enumerate(ts):
        ok = t.ndim == 2 or (t.ndim == 1 and k in (0, len(ts) - 1))
        if not ok:
            raise RuntimeError(f"multi_dot(): tensor {k} must be 2D (the first and last may be "
                               f"1D) but got {t.ndim}D")
    return reduce(matmul, ts)


def vecdot(x: Any, y: Any, *, dim: int = -1) -> Tensor:
    """The dot product of x and y (broadcast) along dim."""
    return (as_operand(x) * as_operand(y)).sum(dim)
