"""softmax and log_softmax along one dim, each fused for stability with a backward that is one
fused op of its own (SoftmaxGrad, LogSoftmaxGrad), differentiable again; and PyTorch's implicit
dim for F.softmax without one."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.dtypes import as_numpy_dtype
from chainrule.operands import as_operand
from chainrule.ops.elementwise import astype, exp
from chainrule.ops.reduce import _axes
from chainrule.tensor import Tensor


def _wide(x: Any) -> Any:
    """float16 computed in float32 (PyTorch's CPU kernels accumulate half in float); else x."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


class Softmax(Function):
    """exp(x) / sum(exp(x)) along one axis, fused for stability."""

    saves = "out"

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        if x.size == 0:  # nothing to normalise (and an empty axis has no max)
            return x.copy()
        w = _wide(x)
        with np.errstate(invalid="ignore"):  # an all -inf row is NaN, silently, as in torch
            e = xp.exp(w - w.max(axis=self.axis, keepdims=True))
            e /= e.sum(axis=self.axis, keepdims=True)
        return e.astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        return SoftmaxGrad(self.axis)(gy, self.output)


class SoftmaxGrad(Function):
    """y * (gy - sum(gy * y)): softmax's backward in one op (fused for speed), differentiable
    in gy (where it is its own adjoint) and in y."""

    saves = "inputs"

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, gy: Any, y: Any) -> Any:
        s = (_wide(gy) * _wide(y)).sum(axis=self.axis, keepdims=True)
        return (_wide(y) * (_wide(gy) - s)).astype(y.dtype, copy=False)

    def backward(self, g: Tensor) -> tuple:
        gy, y = self.inputs
        n = self.needs_input_grad
        ggy = SoftmaxGrad(self.axis)(g, y) if n[0] else None
        gyy = None
        if n[1]:
            s = (gy * y).sum(axis=self.axis, keepdims=True)
            gyy = g * (gy - s) - gy * (g * y).sum(axis=self.axis, keepdims=True)
        return ggy, gyy


class LogSoftmax(Function):
    """x - logsumexp(x) along one axis, fused for stability."""

    saves = "out"

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        if x.size == 0:  # nothing to normalise (and an empty axis has no max)
            return x.copy()
        w = _wide(x)
        with np.errstate(invalid="ignore"):
            z = w - w.max(axis=self.axis, keepdims=True)
            z -= xp.log(xp.exp(z).sum(axis=self.axis, keepdims=True))
        return z.astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        return LogSoftmaxGrad(self.axis)(gy, self.output)


class LogSoftmaxGrad(Function):
    """gy - exp(y) * sum(gy): log_softmax's backward in one op (fused for speed),
    differentiable in gy and y."""

    saves = "inputs"

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, gy: Any, y: Any) -> Any:
        s = _wide(gy).sum(axis=self.axis, keepdims=True)
        return (_wide(gy) - xp_of(y).exp(_wide(y)) * s).astype(y.dtype, copy=False)

    def backward(self, g: Tensor) -> tuple:
        gy, y = self.inputs
        n = self.needs_input_grad
        p = exp(y)
        ggy = g - (g * p).sum(axis=self.axis, keepdims=True) if n[0] else None
        gyy = -(g * p * gy.sum(axis=self.axis, keepdims=True)) if n[1] else None
        return ggy, gyy


def implicit_softmax_dim(op: str, ndim: int) -> int:
    """PyTorch's implicit dim for F.softmax and nn.Softmax without one (deprecated there too):
    0 for 0-, 1- and 3-d inputs, else 1, with PyTorch's warning."""
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to "
                  "include dim=X as an argument.", UserWarning, stacklevel=4)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_input(op: str, input: Any, dim: Any, dtype: Any) -> tuple[Tensor, int | None]:
    x = as_operand(input)
    if dim is None:
        raise TypeError(f"{op}() missing required argument 'dim' (as in PyTorch); "
                        f"F.{op}(x) alone picks PyTorch's deprecated implicit dim")
    if dtype is not None:
        x = astype(x, as_numpy_dtype(dtype))
    elif x.array.dtype.kind not in "fc":
        raise RuntimeError(f"{op}: \"{op}_lastdim_kernel_impl\" not implemented for integer "
                           f"tensors ({x.dtype}); convert first, x.float(), or pass dtype=")
    return x, (_axes(op, dim, x.ndim)[0] if x.ndim else None)


def softmax(input: Any, dim: Any = None, dtype: Any = None, *,
            axis: Any = None) -> Tensor:
    """exp(x) / exp(x).sum(dim, keepdim=True), along dim (required)."""
    x, d = _softmax_input("softmax", input, dim if axis is None else axis, dtype)
    return Softmax(d)(x)


def log_softmax(input: Any, dim: Any = None, dtype: Any = None, *,
                axis: Any = None) -> Tensor:
    """x - logsumexp(x, dim, keepdim=True), along dim (required)."""
    x, d = _softmax_input("log_softmax", input, dim if axis is None else axis, dtype)
    return LogSoftmax(d)(x)
