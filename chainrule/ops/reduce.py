"""Reductions (sum mean max min prod var std logsumexp), softmax / log_softmax, cumsum, and the
pair that undoes broadcasting: sum_to and broadcast_to, each the other's backward.

Reductions take NumPy's `axis` (None, an int or a tuple) and `keepdims`.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from chainrule.autograd import Function, is_grad_enabled
from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.ops.elementwise import Scale, exp
from chainrule.tensor import Tensor, as_operand


def _axes(op: str, axis: Any, ndim: int) -> tuple[int, ...] | None:
    """axis as a sorted tuple of non-negative ints (None stays None: all axes)."""
    if axis is None:
        return None
    ax = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in ax:
        if not -ndim <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        out.append(int(a) % builtins.max(ndim, 1))
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: axis {axis} repeats an axis")
    return tuple(sorted(out)) if ndim else None


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand(gy: Tensor, shape: tuple[int, ...], axes: Any, keepdims: bool,
            scale: float = 1.0) -> Tensor:
    """Spread the gradient of a reduction back over the reduced axes (times scale)."""
    return Expand(axes, keepdims, shape, scale)(gy)


class Expand(Function):
    """Reshape to keep the reduced axes, then broadcast over them: the backward of a reduction,
    fused into one op (it runs in every loss's backward); its own backward is that sum."""

    def __init__(self, axes: Any, keepdims: bool, shape: tuple[int, ...],
                 scale: float = 1.0) -> None:
        self.axes, self.keepdims, self.shape, self.scale = axes, keepdims, shape, scale

    def forward(self, g: Any) -> Any:
        if not self.keepdims:
            g = g.reshape(_kept_shape(self.shape, self.axes))
        if self.scale != 1.0:
            g = g * g.dtype.type(self.scale)  # on the small array, before broadcasting
        return xp_of(g).broadcast_to(g, self.shape)

    def backward(self, gg: Tensor) -> Tensor:
        s = Sum(self.axes, self.keepdims)(gg)
        return s if self.scale == 1.0 else s * self.scale


def _count(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    return int(np.prod(shape)) if axes is None else int(np.prod([shape[a] for a in axes]))


class _Reduction(Function):
    def __init__(self, axes: Any, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims


class Sum(_Reduction):
    def forward(self, x: Any) -> Any:
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        return _expand(gy, self.inputs[0].shape, self.axes, self.keepdims)


class Mean(_Reduction):
    def forward(self, x: Any) -> Any:
        n = _count(x.shape, self.axes)
        s = x.sum(axis=self.axes, keepdims=self.keepdims)
        return s / x.dtype.type(n) if n else s * x.dtype.type(np.nan)

    def backward(self, gy: Tensor) -> Tensor:
        shape = self.inputs[0].shape
        n = _count(shape, self.axes)
        return _expand(gy, shape, self.axes, self.keepdims, 1.0 / builtins.max(n, 1))


class Max(_Reduction):
    """max over axes; the gradient is split evenly between tied maxima."""

    def forward(self, x: Any) -> Any:
        if _count(x.shape, self.axes) == 0:  # an empty group has no max; (0, 3) over axis 1 is fine
            raise ShapeError(
                f"{self.name.lower()}: cannot reduce an empty tensor of shape {x.shape}")
        return self._reduce(x)

    def _reduce(self, x: Any) -> Any:
        return x.max(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].data
        y = self.output.data.reshape(_kept_shape(x.shape, self.axes))
        hit = x == y
        w = hit / hit.sum(axis=self.axes, keepdims=True)
        return Scale(w.astype(x.dtype))(_expand(gy, x.shape, self.axes, self.keepdims))


class Min(Max):
    def _reduce(self, x: Any) -> Any:
        return x.min(axis=self.axes, keepdims=self.keepdims)


class Prod(_Reduction):
    def forward(self, x: Any) -> Any:
        return x.prod(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        g = _expand(gy, x.shape, self.axes, self.keepdims)
        if (x.data != 0).all():
            return g * _expand(self.output, x.shape, self.axes, self.keepdims) / x
        # with zeros, y / x is undefined: use the product of the other elements
        if not is_grad_enabled():  # first order only: O(n) prefix products, a constant is right
            return Scale(_prod_of_others(x.data, self.axes))(g)
        return g * _prod_of_others_graph(x, self.axes)  # create_graph: keep it differentiable


def _prod_of_others(x: Any, axes: tuple[int, ...] | None) -> Any:
    """For each element, the product of the other elements of its reduction group."""
    xp = xp_of(x)
    axes = tuple(range(x.ndim)) if axes is None else axes
    rest = [a for a in range(x.ndim) if a not in axes]
    perm = rest + list(axes)
    xm = x.transpose(perm).reshape([x.shape[a] for a in rest] + [-1])
    ones = xp.ones(xm.shape[:-1] + (1,), dtype=x.dtype)
    left = xp.concatenate([ones, xp.cumprod(xm, axis=-1)[..., :-1]], axis=-1)
    right = xp.flip(xp.cumprod(xp.flip(xm, -1), axis=-1), -1)
    right = xp.concatenate([right[..., 1:], ones], axis=-1)
    others = (left * right).reshape([x.shape[a] for a in perm])
    return others.transpose(np.argsort(perm))


def _prod_of_others_graph(x: Tensor, axes: tuple[int, ...] | None) -> Tensor:
    """_prod_of_others from Tensor ops, so it can be differentiated: each group of n elements
    becomes an n x n matrix whose row i is the group with element i replaced by 1 (O(n^2))."""
    from chainrule.ops.elementwise import where

    axes = tuple(range(x.ndim)) if axes is None else axes
    rest = [a for a in range(x.ndim) if a not in axes]
    perm = rest + list(axes)
    xm = x.transpose(perm).reshape(tuple(x.shape[a] for a in rest) + (-1,))
    eye = Tensor._make(xp_of(x.data).eye(xm.shape[-1], dtype=bool), None)
    others = where(eye, 1.0, xm.unsqueeze(-2)).prod(axis=-1)
    return others.reshape(tuple(x.shape[a] for a in perm)).transpose(tuple(np.argsort(perm)))


class LogSumExp(_Reduction):
    """log(sum(exp(x))), fused for stability: the max is subtracted before exp."""

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        kept = _kept_shape(x.shape, self.axes)
        m = x.max(axis=self.axes, keepdims=True) if x.size else xp.zeros(kept, x.dtype)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or inf) groups: do not subtract inf
        y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        if self.keepdims:
            return y
        return y.reshape(()) if self.axes is None else y.squeeze(axis=self.axes)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        kept = _kept_shape(x.shape, self.axes)
        return gy.reshape(kept) * exp(x - self.output.reshape(kept))


class Softmax(Function):
    """exp(x) / sum(exp(x)) along one axis, fused for stability."""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        if x.size == 0:  # nothing to normalise (and an empty axis has no max)
            return x.copy()
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        e /= e.sum(axis=self.axis, keepdims=True)
        return e

    def backward(self, gy: Tensor) -> Tensor:
        return SoftmaxGrad(self.axis)(gy, self.output)


class SoftmaxGrad(Function):
    """y * (gy - sum(gy * y)): softmax's backward in one op (fused for speed), differentiable
    in gy (where it is its own adjoint) and in y."""

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, gy: Any, y: Any) -> Any:
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))

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

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        if x.size == 0:  # nothing to normalise (and an empty axis has no max)
            return x.copy()
        z = x - x.max(axis=self.axis, keepdims=True)
        z -= xp.log(xp.exp(z).sum(axis=self.axis, keepdims=True))
        return z

    def backward(self, gy: Tensor) -> Tensor:
        return LogSoftmaxGrad(self.axis)(gy, self.output)


class LogSoftmaxGrad(Function):
    """gy - exp(y) * sum(gy): log_softmax's backward in one op (fused for speed),
    differentiable in gy and y."""

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, gy: Any, y: Any) -> Any:
        return gy - xp_of(y).exp(y) * gy.sum(axis=self.axis, keepdims=True)

    def backward(self, g: Tensor) -> tuple:
        gy, y = self.inputs
        n = self.needs_input_grad
        p = exp(y)
        ggy = g - (g * p).sum(axis=self.axis, keepdims=True) if n[0] else None
        gyy = -(g * p * gy.sum(axis=self.axis, keepdims=True)) if n[1] else None
        return ggy, gyy


class Cumsum(Function):
    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        return x.cumsum(axis=self.axis)

    def backward(self, gy: Tensor) -> Tensor:
        from chainrule.ops.shape import flip

        return flip(flip(gy, self.axis).cumsum(self.axis), self.axis)


class SumTo(Function):
    """Sum a broadcast array back down to `shape` (the backward of broadcasting)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        lead = x.ndim - len(self.shape)
        if lead < 0 or any(s not in (1, xs) for s, xs in zip(self.shape, x.shape[lead:])):
            raise ShapeError(f"sum_to: shape {x.shape} cannot be summed to {self.shape}")
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(self.shape) if s == 1 and x.shape[lead + i] != 1)
        y = x.sum(axis=axes, keepdims=True) if axes else x
        return y.reshape(self.shape) if lead else y

    def backward(self, gy: Tensor) -> Tensor:
        return broadcast_to(gy, self.inputs[0].shape)


class BroadcastTo(Function):
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        try:
            return xp_of(x).broadcast_to(x, self.shape)
        except ValueError:
            raise ShapeError(
                f"broadcast_to: cannot broadcast shape {x.shape} to {self.shape} (each dimension "
                "must be equal or 1, counting from the right)"
            ) from None

    def backward(self, gy: Tensor) -> Tensor:
        return sum_to(gy, self.inputs[0].shape)


# -- the public functions ------------------------------------------------------------------------
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    x = as_operand(x)
    return Sum(_axes("sum", axis, x.ndim), keepdims)(x)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = as_operand(x)
    return Mean(_axes("mean", axis, x.ndim), keepdims)(x)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    x = as_operand(x)
    return Max(_axes("max", axis, x.ndim), keepdims)(x)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    x = as_operand(x)
    return Min(_axes("min", axis, x.ndim), keepdims)(x)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = as_operand(x)
    return Prod(_axes("prod", axis, x.ndim), keepdims)(x)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    x = as_operand(x)
    return LogSumExp(_axes("logsumexp", axis, x.ndim), keepdims)(x)


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Variance with NumPy's convention (ddof=0); pass ddof=1 for PyTorch's unbiased default."""
    x = as_operand(x)
    axes = _axes("var", axis, x.ndim)
    d = x - mean(x, axes, keepdims=True)
    return sum(d * d, axes, keepdims) / (_count(x.shape, axes) - ddof)


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    return var(x, axis, ddof, keepdims).sqrt()


def _one_axis(op: str, axis: int, x: Tensor) -> int | None:
    return _axes(op, axis, x.ndim)[0] if x.ndim else None


def softmax(x: Any, axis: int = -1) -> Tensor:
    x = as_operand(x)
    return Softmax(_one_axis("softmax", axis, x))(x)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    x = as_operand(x)
    return LogSoftmax(_one_axis("log_softmax", axis, x))(x)


def cumsum(x: Any, axis: int | None = None) -> Tensor:
    """Cumulative sum along axis; axis=None works on the flattened tensor, as in NumPy."""
    x = as_operand(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return Cumsum(_one_axis("cumsum", axis, x))(x)


def sum_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    return x if x.shape == tuple(shape) else SumTo(tuple(shape))(x)


def broadcast_to(x: Any, shape: Any) -> Tensor:
    x = as_operand(x)
    shape = tuple(int(s) for s in shape)
    return x if x.shape == shape else BroadcastTo(shape)(x)


def _arg(name: str) -> Any:
    def arg(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
        x = as_operand(x)
        if x.size == 0 and (axis is None or x.shape[axis] == 0):
            raise ShapeError(f"{name}: cannot take {name} of an empty tensor of shape {x.shape}")
        return Tensor._make(getattr(x.data, name)(axis=axis, keepdims=keepdims), None)

    arg.__name__ = name
    arg.__doc__ = f"Indices of the {name[3:]}ima along axis (int64, not differentiable)."
    return arg


argmax = _arg("argmax")
argmin = _arg("argmin")
