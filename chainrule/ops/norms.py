"""Norms, as PyTorch defines them: linalg.vector_norm (any order, over any dims), linalg.matrix_norm
('fro', 1, -1, inf, -inf), linalg.norm, and torch.norm / x.norm (p='fro' by default).

The gradient is PyTorch's: where the norm is 0 it is 0 (not NaN), for p = inf it is shared
evenly among the elements of largest magnitude, and p = 0 (a count) has none.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import may_any, xp_of
from chainrule.dtypes import as_numpy_dtype, can_cast
from chainrule.operands import as_operand
from chainrule.ops.elementwise import Scale, astype, where
from chainrule.ops.elementwise import abs as _abs
from chainrule.ops.reduce import _axes, _kept_shape, amax, amin
from chainrule.tensor import Tensor

_INF = math.inf


class VectorNorm(Function):
    """(sum |x|^p over axes)^(1/p), with p = inf / -inf the largest / smallest |x| and p = 0 the
    number of nonzeros. Backward: PyTorch's norm_backward, written with Tensor ops."""

    saves = "0 out"

    def __init__(self, p: float, axes: tuple[int, ...] | None, keepdim: bool) -> None:
        self.p, self.axes, self.keepdim = p, axes, keepdim

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        a, p, ax = xp.abs(x), self.p, self.axes
        if a.dtype == np.float16 and p not in (_INF, -_INF, 0):
            a = a.astype(np.float32)  # sums of half in float, as PyTorch's CPU kernel
        kd = self.keepdim
        if p == 2:
            y = xp.sqrt((a * a).sum(axis=ax, keepdims=kd))
        elif p == 1:
            y = a.sum(axis=ax, keepdims=kd)
        elif p == _INF:
            y = a.max(axis=ax, keepdims=kd)
        elif p == -_INF:
            y = a.min(axis=ax, keepdims=kd)
        elif p == 0:
            y = (a != 0).sum(axis=ax, keepdims=kd)
        else:
            with np.errstate(divide="ignore"):  # a negative p at a zero: its limit, 0
                y = (a ** p).sum(axis=ax, keepdims=kd) ** (1.0 / p)
        with np.errstate(over="ignore"):  # beyond float16's range: inf, silently, as torch
            return xp.asarray(y, dtype=x.dtype)

    def backward(self, gy: Tensor) -> Tensor | None:
        x, p = self.inputs[0], self.p
        if p == 0:
            return None
        shape = _kept_shape(tuple(x.shape), self.axes)
        g = gy if self.keepdim else gy.reshape(shape)
        norm = self.output if self.keepdim else self.output.reshape(shape)
        xa, na = x.array, norm.array
        xp = xp_of(xa)
        if p == 1:
            return Scale(xp.sign(xa))(g)
        if abs(p) == _INF:
            ax = xp.abs(xa)
            hit = (ax == na) | xp.isnan(ax)
            count = hit.sum(axis=self.axes, keepdims=True)
            return Scale((xp.sign(xa) * hit / count).astype(xa.dtype))(g)
        zero = na == 0
        safe = where(zero, 1.0, norm) if may_any(zero) else norm
        if p == 2:
            ratio = x / safe
            return g * (where(zero, 0.0, ratio) if may_any(zero) else ratio)
        xz = xa == 0
        ab = _abs(x)
        if p < 1:  # |x|^(p-1) is infinite at 0: PyTorch takes 0 there
            powed = where(xz, 0.0, where(xz, 1.0, ab) ** (p - 1)) if may_any(xz) else ab ** (p - 1)
            return Scale(xp.sign(xa))(powed) * g * norm ** (1 - p)
        scale = g / safe ** (p - 1)
        scale = where(zero, 0.0, scale) if may_any(zero) else scale
        if p < 2:
            return Scale(xp.sign(xa))(ab ** (p - 1)) * scale
        return x * ab ** (p - 2) * scale


def _float_input(op: str, x: Tensor, dtype: Any) -> Tensor:
    """x as a floating tensor of dtype (if given), with PyTorch's errors."""
    if x.array.dtype.kind not in "fc":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{x.dtype}; convert it first: x.float()")
    if dtype is not None:
        dt = as_numpy_dtype(dtype)
        if not can_cast(x.array.dtype, dt) or dt.itemsize < x.array.dtype.itemsize:
            raise RuntimeError(f"{op}: the dtype of the input ({x.dtype}) should be convertible "
                               f"without narrowing to the specified dtype ({dtype})")
        x = astype(x, dt)
    return x


def vector_norm(x: Any, ord: float = 2, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None, out: Any = None) -> Tensor:
    """(sum |x|^ord)^(1/ord) over dim (all dims when None), for any real ord: inf / -inf give
    max / min |x|, 0 the count of nonzeros."""
    if out is not None:
        raise TypeError("linalg.vector_norm: out= is not supported; assign the result instead")
    if isinstance(ord, str):
        raise TypeError(f"linalg.vector_norm(): argument 'ord' must be Number, not str ({ord!r}); "
                        "for 'fro' or 'nuc' use linalg.matrix_norm")
    t = _float_input("linalg.vector_norm", as_operand(x), dtype)
    axes = _axes("linalg.vector_norm", dim, t.ndim)
    p = float(ord)
    if abs(p) == _INF and t.numel() == 0:
        reduced = range(t.ndim) if axes is None else axes
        if t.ndim == 0 or any(t.shape[a] == 0 for a in reduced):
            raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty "
                               "tensor because the operation does not have an identity")
    return VectorNorm(p, axes, bool(keepdim))(t)


def _two(op: str, dim: Any, ndim: int) -> tuple[int, int]:
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if len(dims) != 2:
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {' '.join(map(str, dims))}")
    if ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    d0, d1 = _axes(op, dims[0], ndim)[0], _axes(op, dims[1], ndim)[0]
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dims[0]}, {dims[1]})")
    return d0, d1


def matrix_norm(A: Any, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *,
                dtype: Any = None, out: Any = None) -> Tensor:
    """The norm of the matrices in the dims dim: 'fro' (Frobenius), 1 / -1 (max / min column
    sum of |A|), inf / -inf (max / min row sum). 'nuc', 2 and -2 need singular values, which
    chainrule does not compute yet: they raise."""
    if out is not None:
        raise TypeError("linalg.matrix_norm: out= is not supported; assign the result instead")
    t = _float_input("linalg.matrix_norm", as_operand(A), dtype)
    d0, d1 = _two("linalg.matrix_norm", dim, t.ndim)
    if ord == "fro":
        return vector_norm(t, 2, (d0, d1), keepdim)
    if ord == "nuc" or (not isinstance(ord, str) and abs(ord) == 2):
        raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} needs singular values, which "
                                  "chainrule does not compute yet; use ord='fro', 1, -1, inf "
                                  "or -inf")
    if isinstance(ord, str) or abs(ord) not in (1, _INF):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if abs(ord) == _INF:
        d0, d1 = d1, d0  # the inf norm is the 1 norm of the transpose
    sums = vector_norm(t, 1, d0, keepdim)
    if not keepdim and d0 < d1:
        d1 -= 1
    return amax(sums, d1, keepdim) if ord > 0 else amin(sums, d1, keepdim)


def linalg_norm(A: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None, out: Any = None) -> Tensor:
    """linalg.norm: a vector norm over one dim (or, with neither ord nor dim, over all
    elements), a matrix norm over two (or, with ord and no dim, of a 2-D input)."""
    if out is not None:
        raise TypeError("linalg.norm: out= is not supported; assign the result instead")
    t = as_operand(A)
    dims = None if dim is None else (tuple(dim) if isinstance(dim, (tuple, list)) else (dim,))
    if dims is not None and len(dims) not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got "
                           f"{list(dims)}")
    if dims is None and (ord is not None) and t.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {t.ndim}D.")
    if ord is not None and (isinstance(ord, str) or (dims is None and t.ndim == 2)
                            or (dims is not None and len(dims) == 2)):
        return matrix_norm(t, ord, (0, 1) if dims is None else dims, keepdim, dtype=dtype)
    return vector_norm(t, 2 if ord is None else ord, dims, keepdim, dtype=dtype)


def norm(input: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False, out: Any = None,
         dtype: Any = None) -> Tensor:
    """torch.norm / x.norm: the 2-norm of all elements (p='fro' or 2, the default), a vector
    p-norm over dim, or with p a string and two dims a matrix norm."""
    if out is not None:
        raise TypeError("norm: out= is not supported; assign the result instead")
    x = as_operand(input)
    dims = None if dim is None else ([dim] if isinstance(dim, (int, np.integer)) else list(dim))
    if isinstance(p, str):
        if p == "fro" and (dims is None or len(dims) <= 2):
            return vector_norm(x, 2, dims, keepdim, dtype=dtype)
        return matrix_norm(x, p, list(range(x.ndim)) if dims is None else dims, keepdim,
                           dtype=dtype)
    return vector_norm(x, 2.0 if p is None else p, dims, keepdim, dtype=dtype)

