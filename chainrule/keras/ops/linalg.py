"""keras.ops.linalg (also under keras.ops): Keras 3's linear-algebra ops on chainrule tensors,
with Keras' names and arguments. cholesky, det, inv, solve, solve_triangular, norm, slogdet,
logdet, cholesky_inverse and trace are differentiable (chainrule.linalg's ops); qr, svd, eigh,
eig, lstsq, pinv, matrix_rank and lu_factor compute their values (NumPy / SciPy-free) but have
no gradient in chainrule yet, and say so when a gradient is asked for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr
from chainrule import linalg as _la
from chainrule.keras.ops._convert import convert_to_tensor, to_float
from chainrule.keras.ops.numpy_array import norm
from chainrule.modes import is_grad_enabled
from chainrule.tensor import Tensor

# Keras' ops.linalg names (slogdet, logdet and trace live in keras.ops only)
__all__ = ["cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "lstsq", "lu_factor",
           "matrix_rank", "norm", "pinv", "qr", "solve", "solve_triangular", "svd"]


def _t(x: Any) -> Tensor:
    return to_float(convert_to_tensor(x))


def cholesky(x: Any, upper: bool = False) -> Tensor:
    """The Cholesky factor of symmetric positive-definite x (..., M, M): lower L with
    x = L L^T, or upper U = L^T with upper=True."""
    L = _la.cholesky(_t(x))
    return L.transpose(-2, -1) if upper else L


def cholesky_inverse(x: Any, upper: bool = False) -> Tensor:
    """The inverse of A from its Cholesky factor x (lower: A = x x^T; upper: A = x^T x)."""
    f = _t(x)
    A = f.transpose(-2, -1) @ f if upper else f @ f.transpose(-2, -1)
    return _la.inv(A)


def det(x: Any) -> Tensor:
    """The determinant of each square matrix in x (..., M, M) -> (...)."""
    return _la.det(_t(x))


def inv(x: Any) -> Tensor:
    """The inverse of each square matrix in x (..., M, M)."""
    return _la.inv(_t(x))


def solve(a: Any, b: Any) -> Tensor:
    """x with a x = b: a (..., M, M), b (..., M) or (..., M, N)."""
    return _la.solve(_t(a), _t(b))


def solve_triangular(a: Any, b: Any, lower: bool = False) -> Tensor:
    """x with a x = b, reading only a's lower (lower=True) or upper triangle."""
    A = _t(a)
    A = cr.tril(A) if lower else cr.triu(A)
    return _la.solve(A, _t(b))


def slogdet(x: Any) -> tuple[Tensor, Tensor]:
    """(sign, log|det|) of each square matrix in x."""
    return _la.slogdet(_t(x))


def logdet(x: Any) -> Tensor:
    """log(det(x)): NaN where the determinant is negative (as torch.logdet)."""
    sign, logabs = _la.slogdet(_t(x))
    nan = Tensor._make(np.asarray(np.nan, dtype=logabs.array.dtype), None)
    return cr.where(sign > 0, logabs, cr.where(sign < 0, nan, logabs))


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """The sum along a diagonal (NumPy's trace: axis1=0, axis2=1 by default)."""
    t = convert_to_tensor(x)
    return cr.diagonal(t, offset=offset, dim1=axis1, dim2=axis2).sum(-1)


# -- values only: no backward in chainrule yet -------------------------------------------------
def _values(op: str, *xs: Any) -> list[np.ndarray]:
    ts = [_t(x) for x in xs]
    if is_grad_enabled() and any(t.requires_grad for t in ts):
        raise NotImplementedError(
            f"ops.linalg.{op}: chainrule has no gradient for {op} yet; compute it on values "
            f"(ops.stop_gradient(x), or under chainrule.no_grad()) or use a differentiable op "
            f"(solve, inv, cholesky, det)")
    return [np.asarray(t.numpy(force=True)) for t in ts]


def _out(*arrays: np.ndarray) -> Any:
    ts = tuple(Tensor._make(np.ascontiguousarray(a), None) for a in arrays)
    return ts if len(ts) > 1 else ts[0]


def qr(x: Any, mode: str = "reduced") -> tuple[Tensor, Tensor]:
    """(q, r) with x = q r; mode 'reduced' or 'complete' (values only)."""
    if mode not in ("reduced", "complete"):
        raise ValueError(f"`mode` argument value not supported. Expected one of "
                         f"{{'reduced', 'complete'}}. Received: mode={mode}")
    (a,) = _values("qr", x)
    return _out(*np.linalg.qr(a, mode=mode))


def svd(x: Any, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """(u, s, vh) with x = u diag(s) vh, or s alone with compute_uv=False (values only)."""
    (a,) = _values("svd", x)
    if not compute_uv:
        return _out(np.linalg.svd(a, compute_uv=False))
    return _out(*np.linalg.svd(a, full_matrices=full_matrices))


def eigh(x: Any) -> tuple[Tensor, Tensor]:
    """(eigenvalues ascending, eigenvectors) of symmetric x (values only)."""
    (a,) = _values("eigh", x)
    return _out(*np.linalg.eigh(a))


def eig(x: Any) -> tuple[Tensor, Tensor]:
    """(eigenvalues, eigenvectors) of x, when they are real (chainrule has no complex
    tensors; values only)."""
    (a,) = _values("eig", x)
    w, v = np.linalg.eig(a)
    if np.iscomplexobj(w) and np.any(np.imag(w) != 0):
        raise NotImplementedError("ops.linalg.eig: this matrix has complex eigenvalues, and "
                                  "chainrule has no complex tensors; use eigh for symmetric "
                                  "matrices")
    return _out(np.real(w).astype(a.dtype), np.real(v).astype(a.dtype))


def lstsq(a: Any, b: Any, rcond: Any = None) -> Tensor:
    """The least-squares solution x of a x = b (values only)."""
    A, B = _values("lstsq", a, b)
    return _out(np.linalg.lstsq(A, B, rcond=rcond)[0].astype(A.dtype))


def pinv(x: Any, rcond: Any = None) -> Tensor:
    """The Moore-Penrose pseudo-inverse (values only)."""
    (a,) = _values("pinv", x)
    out = np.linalg.pinv(a) if rcond is None else np.linalg.pinv(a, rcond=rcond)
    return _out(out.astype(a.dtype))


def matrix_rank(x: Any, tol: Any = None) -> Tensor:
    """The numerical rank of each matrix (int32, values only)."""
    (a,) = _values("matrix_rank", x)
    return _out(np.asarray(np.linalg.matrix_rank(a, tol=tol), dtype=np.int32))


def lu_factor(x: Any) -> tuple[Tensor, Tensor]:
    """(lu, pivots) of square x, LAPACK's getrf form (pivots 0-based, int32; values only)."""
    (a,) = _values("lu_factor", x)
    if a.ndim != 2:
        raise NotImplementedError("ops.linalg.lu_factor: batches of matrices are not "
                                  "supported in chainrule")
    lu, n = a.astype(np.float64, copy=True), a.shape[0]
    piv = np.zeros(n, dtype=np.int32)
    for k in range(n):  # Gaussian elimination with partial pivoting
        p = k + int(np.argmax(np.abs(lu[k:, k])))
        piv[k] = p
        if p != k:
            lu[[k, p]] = lu[[p, k]]
        if lu[k, k] != 0:
            lu[k + 1:, k] /= lu[k, k]
            lu[k + 1:, k + 1:] -= np.outer(lu[k + 1:, k], lu[k, k + 1:])
    return _out(lu.astype(a.dtype), piv)
