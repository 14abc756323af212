"""Dense linear algebra with exact gradients to any order: inverse, determinant (also where the
matrix is singular), sign and log of the determinant, linear solves, and the Cholesky factor.
Each works on batches of matrices (..., n, n); each backward is a formula in these same ops and
matmul, so it is differentiable again.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import may_any, xp_of
from chainrule.errors import ShapeError
from chainrule.operands import as_operand
from chainrule.ops.diag import tril
from chainrule.ops.elementwise import Piecewise, where
from chainrule.ops.shape import getitem
from chainrule.tensor import Tensor

slogdet_t = namedtuple("slogdet", ["sign", "logabsdet"])


def _square(op: str, A: Tensor) -> None:
    """PyTorch's checks for a batch of square floating matrices."""
    if A.ndim < 2:
        raise ShapeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise ShapeError(f"{op}: A must be batches of square matrices, but they are "
                         f"{A.shape[-2]} by {A.shape[-1]} matrices")
    if A.array.dtype.kind not in "fc":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{A.dtype}")


def _linalg(op: str, fn: Any, *arrays: Any) -> Any:
    """fn(*arrays), NumPy's LinAlgError as PyTorch's RuntimeError naming the op."""
    try:
        return fn(*arrays)
    except np.linalg.LinAlgError as e:
        why = ("the input is not positive-definite" if "definite" in str(e)
               else "the input matrix is singular")
        raise RuntimeError(f"{op}: The factorization could not be completed because {why} "
                           f"({e}).") from None


class Inverse(Function):
    """A^-1; backward: -A^-T gY A^-T, from the output."""

    saves = "out"

    def forward(self, a: Any) -> Any:
        return _linalg("linalg.inv", xp_of(a).linalg.inv, a)

    def backward(self, gy: Tensor) -> Tensor:
        yt = self.output.mT
        return -(yt @ gy @ yt)


class Det(Function):
    """det(A); backward: gy * det(A) * A^-T, or, where some det is exactly 0, gy times the
    cofactor matrix (the same function, defined for singular matrices too)."""

    saves = "0 out"

    def forward(self, a: Any) -> Any:
        return xp_of(a).linalg.det(a)

    def backward(self, gy: Tensor) -> Tensor:
        a = self.inputs[0]
        g = gy.unsqueeze(-1).unsqueeze(-1)
        if may_any(self.output.array == 0):
            return g * _cofactors(a)
        return (g * self.output.unsqueeze(-1).unsqueeze(-1)) * Inverse()(a).mT


def _cofactors(a: Tensor) -> Tensor:
    """C[..., i, j] = (-1)^(i+j) det(A without row i and column j), from differentiable ops."""
    n = a.shape[-1]
    if n == 1:
        return a * 0.0 + 1.0
    keep = np.array([[k for k in range(n) if k != i] for i in range(n)])
    minors = getitem(a, (Ellipsis, keep[:, None, :, None], keep[None, :, None, :]))
    sign = (-1.0) ** np.add.outer(np.arange(n), np.arange(n))
    return det(minors) * Tensor._make(xp_of(a.array).asarray(sign, dtype=a.array.dtype), None)


class LogAbsDet(Function):
    """log |det(A)|; backward: gy * A^-T."""

    saves = "0"

    def forward(self, a: Any) -> Any:
        return xp_of(a).linalg.slogdet(a)[1]

    def backward(self, gy: Tensor) -> Tensor:
        return gy.unsqueeze(-1).unsqueeze(-1) * Inverse()(self.inputs[0]).mT


class Solve(Function):
    """X with A X = B (B a batch of matrices); backward: gB = A^-T gX (a solve), gA = -gB X^T."""

    saves = "0 out"

    def forward(self, a: Any, b: Any) -> Any:
        return _linalg("linalg.solve", xp_of(a, b).linalg.solve, a, b)

    def backward(self, gx: Tensor) -> tuple:
        a = self.inputs[0]
        gb = Solve()(a.mT, gx)
        n = self.needs_input_grad
        return (-(gb @ self.output.mT) if n[0] else None), (gb if n[1] else None)


class Cholesky(Function):
    """L (lower) with L L^T = A, A symmetric positive-definite (only its lower triangle is
    read). Backward (Murray 2016, as PyTorch): L^-T Phi(L^T gL) L^-1 with Phi the lower triangle
    with its diagonal halved, made symmetric."""

    saves = "out"

    def forward(self, a: Any) -> Any:
        return _linalg("linalg.cholesky", xp_of(a).linalg.cholesky, a)

    def backward(self, gl: Tensor) -> Tensor:
        L = self.output
        g = tril(L.mT @ gl)
        g = (g + tril(g, -1).mT) * 0.5
        g = Solve()(L.mT, g)  # L^-T g
        return Solve()(L.mT, g.mT).mT  # (L^-T g) L^-1


# -- the public functions ------------------------------------------------------------------------
def inv(A: Any) -> Tensor:
    """The inverse of each square matrix in A (..., n, n)."""
    a = as_operand(A)
    _square("linalg.inv", a)
    return Inverse()(a)


def det(A: Any) -> Tensor:
    """The determinant of each square matrix in A (..., n, n), shape (...)."""
    a = as_operand(A)
    _square("linalg.det", a)
    return Det()(a)


def slogdet(A: Any) -> Any:
    """(sign, logabsdet) of the determinant of each matrix in A: det = sign * exp(logabsdet),
    without overflow; the sign's gradient is zero."""
    a = as_operand(A)
    _square("linalg.slogdet", a)
    sign = xp_of(a.array).linalg.slogdet(a.array)[0].astype(a.array.dtype)
    return slogdet_t(Piecewise(lambda _: sign)(a), LogAbsDet()(a))


inverse = inv


def logdet(input: Any) -> Tensor:
    """log(det(A)): NaN where the determinant is negative, -inf where it is 0."""
    sign, logabs = slogdet(input)
    return where(sign.array < 0, np.nan, logabs)


def solve(A: Any, B: Any, *, left: bool = True) -> Tensor:
    """X with A X = B (or X A = B with left=False), A (..., n, n); B a batch of vectors
    (..., n) when it is 1-D or has A's batch shape, else of matrices (..., n, k)."""
    a, b = as_operand(A), as_operand(B)
    _square("linalg.solve", a)
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and tuple(b.shape) == tuple(a.shape[:-1]))
    bm = b.unsqueeze(-1) if vector else b
    if not vector and not left:
        return solve(a.mT, bm.mT).mT
    if bm.ndim < 2 or bm.shape[-2] != a.shape[-1]:
        raise ShapeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                         f"({a.shape[-2]}x{a.shape[-1]} and {'x'.join(map(str, b.shape))})")
    if a.array.dtype != b.array.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {a.dtype} and B of type {b.dtype} instead")
    x = Solve()(a if left else a.mT, bm)
    return x.squeeze(-1) if vector else x


def cholesky(A: Any, *, upper: bool = False) -> Tensor:
    """The lower Cholesky factor L of each symmetric positive-definite matrix in A (L L^T = A),
    or with upper=True its transpose U (U^T U = A)."""
    a = as_operand(A)
    _square("linalg.cholesky", a)
    L = Cholesky()(a)
    return L.mT if upper else L
