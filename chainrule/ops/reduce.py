"""Reductions (sum mean prod amax amin var std logsumexp all any), softmax / log_softmax,
cumsum / cumprod, and the pair that undoes broadcasting: sum_to and broadcast_to, each the
other's backward.

Reductions take PyTorch's `dim` (None, an int or a tuple) and `keepdim`; NumPy's spellings `axis`
and `keepdims` are accepted too, as PyTorch accepts them. Integer and bool tensors sum to int64.
The value-selecting reductions (max / min with a dim, median, sort, topk) live in ops/select.py.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from chainrule.autograd import Function, is_grad_enabled
from chainrule.backend import may_any, xp_of
from chainrule.dtypes import as_numpy_dtype, default_float
from chainrule.errors import DimError, ShapeError, dim_error
from chainrule.operands import as_operand, as_view
from chainrule.ops.elementwise import Scale, astype, exp
from chainrule.tensor import Tensor


def _axes(op: str, axis: Any, ndim: int) -> tuple[int, ...] | None:
    """dim as a sorted tuple of non-negative ints (None, and () or [] as PyTorch reads them,
    stay None: all dims)."""
    if axis is None:
        return None
    ax = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if not ax:
        return None
    out = []
    for a in ax:
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1):
            raise dim_error(op, a, ndim)
        out.append(int(a) % builtins.max(ndim, 1))
    if len(set(out)) != len(out):
        raise RuntimeError(f"{op}: dim {out[0]} appears multiple times in the list of dims")
    return tuple(sorted(out)) if ndim else None


def no_out(op: str, out: Any) -> None:
    """out= is accepted (NumPy's functions pass out=None to tensor methods) but not supported."""
    if out is not None:
        raise TypeError(f"{op}: out= is not supported; assign the result instead "
                        f"(y = x.{op}(...)) or copy it: out.copy_(x.{op}(...))")


def dim_args(op: str, dim: Any, keepdim: bool, axis: Any = None,
             keepdims: Any = None) -> tuple[Any, bool]:
    """PyTorch's dim/keepdim, or NumPy's spellings axis/keepdims (not both)."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: give dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


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

    saves = ""

    def __init__(self, axes: Any, keepdims: bool, shape: tuple[int, ...],
                 scale: float = 1.0) -> None:
        self.axes, self.keepdims, self.shape, self.scale = axes, keepdims, shape, scale

    def forward(self, g: Any) -> Any:
        if not self.keepdims:
            g = g.reshape(_kept_shape(self.shape, self.axes))
        if self.scale != 1.0:  # on the small array, before broadcasting; float16 scales in
            # float32, as PyTorch's g / n does (1 / n in float16 loses digits, or is 0)
            g = (g * g.dtype.type(self.scale) if g.dtype != np.float16
                 else (g * np.float32(self.scale)).astype(np.float16))
        return xp_of(g).broadcast_to(g, self.shape)

    def backward(self, gg: Tensor) -> Tensor:
        s = Sum(self.axes, self.keepdims)(gg)
        return s if self.scale == 1.0 else s * self.scale


def _count(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    return int(np.prod(shape)) if axes is None else int(np.prod([shape[a] for a in axes]))


class _Reduction(Function):
    saves = ""

    def __init__(self, axes: Any, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims


def _half_sum(x: Any, axes: Any, keepdims: bool) -> Any:
    """The sum of a float16 array accumulated in float32, as PyTorch does on the CPU (NumPy
    accumulates an outer axis in float16: 60 000 ones sum to 2048), still float32."""
    return x.sum(axis=axes, keepdims=keepdims, dtype=np.float32)


def _to_half(a: Any) -> Any:
    """a rounded to float16; beyond 65504 it is inf, silently, as in PyTorch."""
    with np.errstate(over="ignore"):
        return a.astype(np.float16)


class Sum(_Reduction):
    def forward(self, x: Any) -> Any:
        if x.dtype == np.float16:
            return _to_half(_half_sum(x, self.axes, self.keepdims))
        y = x.sum(axis=self.axes, keepdims=self.keepdims)
        return y.astype(x.dtype) if y.dtype != x.dtype and x.dtype.kind in "iu" else y

    def backward(self, gy: Tensor) -> Tensor:
        return _expand(gy, self.inputs[0].shape, self.axes, self.keepdims)


class Mean(_Reduction):
    def forward(self, x: Any) -> Any:
        n = _count(x.shape, self.axes)
        if x.dtype == np.float16:  # accumulate and divide in float32: n > 65504 is inf in float16
            s = _half_sum(x, self.axes, self.keepdims)
            return _to_half(s / np.float32(n) if n else s * np.float32(np.nan))
        s = x.sum(axis=self.axes, keepdims=self.keepdims)
        return s / x.dtype.type(n) if n else s * x.dtype.type(np.nan)

    def backward(self, gy: Tensor) -> Tensor:
        shape = self.inputs[0].shape
        n = _count(shape, self.axes)
        return _expand(gy, shape, self.axes, self.keepdims, 1.0 / builtins.max(n, 1))


class Max(_Reduction):
    """amax over dims; the gradient is split evenly between tied maxima (PyTorch's amax, and
    its max() and median() of a whole tensor)."""

    saves = "0 out"

    def forward(self, x: Any) -> Any:
        if _count(x.shape, self.axes) == 0:  # an empty group has no max; (0, 3) over axis 1 is fine
            raise DimError(
                f"a{self.name.lower()}: cannot reduce an empty tensor of shape {x.shape} (the "
                "reduced dims have no elements)")
        return self._reduce(x)

    def _reduce(self, x: Any) -> Any:
        return x.max(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].array
        y = self.output.array.reshape(_kept_shape(x.shape, self.axes))
        hit = x == y
        w = hit / hit.sum(axis=self.axes, keepdims=True)
        return Scale(w.astype(x.dtype))(_expand(gy, x.shape, self.axes, self.keepdims))


class Min(Max):
    def _reduce(self, x: Any) -> Any:
        return x.min(axis=self.axes, keepdims=self.keepdims)


class Prod(_Reduction):
    saves = "0 out"

    def forward(self, x: Any) -> Any:
        return x.prod(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        g = _expand(gy, x.shape, self.axes, self.keepdims)
        if not may_any(x.array == 0):
            return g * _expand(self.output, x.shape, self.axes, self.keepdims) / x
        # with zeros, y / x is undefined: use the product of the other elements
        if not is_grad_enabled():  # first order only: O(n) prefix products, a constant is right
            return Scale(_prod_of_others(x.array, self.axes))(g)
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
    return others.transpose(tuple(int(i) for i in np.argsort(perm)))


def _prod_of_others_graph(x: Tensor, axes: tuple[int, ...] | None) -> Tensor:
    """_prod_of_others from Tensor ops, so it can be differentiated: each group of n elements
    becomes an n x n matrix whose row i is the group with element i replaced by 1 (O(n^2))."""
    from chainrule.ops.elementwise import where

    axes = tuple(range(x.ndim)) if axes is None else axes
    rest = [a for a in range(x.ndim) if a not in axes]
    perm = rest + list(axes)
    xm = x.permute(perm).reshape(tuple(x.shape[a] for a in rest) + (-1,))
    eye = Tensor._make(xp_of(x.array).eye(xm.shape[-1], dtype=bool), None)
    others = prod(where(eye, 1.0, xm.unsqueeze(-2)), -1)
    return others.reshape(tuple(x.shape[a] for a in perm)).permute(tuple(np.argsort(perm)))


class LogSumExp(_Reduction):
    """log(sum(exp(x))), fused for stability: the max is subtracted before exp."""

    saves = "0 out"

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


class Cumsum(Function):
    saves = ""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        if x.dtype == np.float16:  # accumulated in float32, as PyTorch (float16 stalls at 2048)
            return _to_half(x.cumsum(axis=self.axis, dtype=np.float32))
        return x.cumsum(axis=self.axis)

    def backward(self, gy: Tensor) -> Tensor:
        from chainrule.ops.join import flip

        return flip(cumsum(flip(gy, self.axis), self.axis), self.axis)


class SumTo(Function):
    """Sum a broadcast array back down to `shape` (the backward of broadcasting)."""

    saves = ""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        lead = x.ndim - len(self.shape)
        if lead < 0 or builtins.any(s not in (1, xs) for s, xs in zip(self.shape, x.shape[lead:])):
            raise ShapeError(f"sum_to: shape {x.shape} cannot be summed to {self.shape}")
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(self.shape) if s == 1 and x.shape[lead + i] != 1)
        y = x.sum(axis=axes, keepdims=True) if axes else x
        return y.reshape(self.shape) if lead else y

    def backward(self, gy: Tensor) -> Tensor:
        return broadcast_to(gy, self.inputs[0].shape)


class BroadcastTo(Function):
    saves = ""

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
def _int_to_long(x: Tensor, dtype: Any) -> Tensor:
    """The input in the accumulation dtype: dtype= when given, int64 for integers and bools."""
    if dtype is not None:
        return astype(x, as_numpy_dtype(dtype))
    if x.array.dtype.kind in "iub" and x.array.dtype != np.int64:
        return astype(x, np.int64)
    return x


def sum(input: Any, dim: Any = None, keepdim: bool = False, *,
        dtype: Any = None, axis: Any = None, keepdims: Any = None,
        out: Any = None) -> Tensor:
    """Sum over dim (all dims by default); integers and bools sum to int64."""
    x = as_operand(input)
    if dim is None and axis is None and dtype is None and keepdims is None and out is None \
            and x.array.dtype.kind in "fc":
        return Sum(None, bool(keepdim))(x)  # the common loss.sum(): no argument to sort out
    no_out("sum", out)
    x = _int_to_long(x, dtype)
    dim, keepdim = dim_args("sum", dim, keepdim, axis, keepdims)
    return Sum(_axes("sum", dim, x.ndim), keepdim)(x)


def mean(input: Any, dim: Any = None, keepdim: bool = False, *,
         dtype: Any = None, axis: Any = None, keepdims: Any = None,
        out: Any = None) -> Tensor:
    no_out("mean", out)
    x = as_operand(input)
    if dtype is not None:
        x = astype(x, as_numpy_dtype(dtype))
    elif x.array.dtype.kind not in "fc":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {x.dtype}; convert first: x.float().mean()")
    dim, keepdim = dim_args("mean", dim, keepdim, axis, keepdims)
    return Mean(_axes("mean", dim, x.ndim), keepdim)(x)


def amax(input: Any, dim: Any = (), keepdim: bool = False, *,
         axis: Any = None, keepdims: Any = None,
        out: Any = None) -> Tensor:
    """The maximum over dim (all dims by default); tied maxima share the gradient evenly."""
    no_out("amax", out)
    x = as_operand(input)
    dim, keepdim = dim_args("amax", dim, keepdim, axis, keepdims)
    return Max(_axes("amax", dim, x.ndim), keepdim)(x)


def amin(input: Any, dim: Any = (), keepdim: bool = False, *,
         axis: Any = None, keepdims: Any = None,
        out: Any = None) -> Tensor:
    """The minimum over dim (all dims by default); tied minima share the gradient evenly."""
    no_out("amin", out)
    x = as_operand(input)
    dim, keepdim = dim_args("amin", dim, keepdim, axis, keepdims)
    return Min(_axes("amin", dim, x.ndim), keepdim)(x)


def prod(input: Any, dim: Any = None, keepdim: bool = False, *,
         dtype: Any = None, axis: Any = None, keepdims: Any = None,
        out: Any = None) -> Tensor:
    no_out("prod", out)
    x = _int_to_long(as_operand(input), dtype)
    dim, keepdim = dim_args("prod", dim, keepdim, axis, keepdims)
    return Prod(_axes("prod", dim, x.ndim), keepdim)(x)


def logsumexp(input: Any, dim: Any = None, keepdim: bool = False, *,
              axis: Any = None, keepdims: Any = None,
        out: Any = None) -> Tensor:
    no_out("logsumexp", out)
    x = as_operand(input)
    if x.array.dtype.kind not in "fc":
        x = astype(x, default_float())
    dim, keepdim = dim_args("logsumexp", dim, keepdim, axis, keepdims)
    return LogSumExp(_axes("logsumexp", dim, x.ndim), keepdim)(x)


def cumsum(input: Any, dim: Any = None, *, dtype: Any = None, axis: Any = None,
           out: Any = None) -> Tensor:
    """Cumulative sum along dim (integers accumulate in int64); dim is required, as in
    PyTorch (for the flattened tensor: x.flatten().cumsum(0))."""
    no_out("cumsum", out)
    x = _int_to_long(as_operand(input), dtype)
    dim = dim if axis is None else axis
    if dim is None:
        raise TypeError("cumsum() missing required argument 'dim' (as in PyTorch); for the "
                        "flattened tensor use x.flatten().cumsum(0)")
    return Cumsum(_axes("cumsum", dim, x.ndim)[0] if x.ndim else None)(x)


def cumprod(input: Any, dim: Any, *, dtype: Any = None) -> Tensor:
    """Cumulative product along dim (integers accumulate in int64). Recorded as a running
    product of slices, so it is differentiable everywhere, zeros included."""
    x = _int_to_long(as_operand(input), dtype)
    if x.ndim == 0:
        return x * 1
    d = _axes("cumprod", dim, x.ndim)[0]
    if not (x.requires_grad and is_grad_enabled()):
        return Tensor._make(xp_of(x.array).cumprod(x.array, axis=d), None)
    from chainrule.ops.join import stack
    from chainrule.ops.shape import select

    out = [select(x, d, 0)]
    for i in range(1, x.shape[d]):
        out.append(out[-1] * select(x, d, i))
    return stack(out, d)


def _logical_reduce(name: str) -> Any:
    def op(input: Any, dim: Any = None, keepdim: bool = False, *,
           axis: Any = None, keepdims: Any = None, out: Any = None) -> Tensor:
        no_out(name, out)
        x = as_operand(input)
        dim, keepdim = dim_args(name, dim, keepdim, axis, keepdims)
        ax = _axes(name, dim, x.ndim)
        r = getattr(x.array.astype(bool, copy=False), name)(axis=ax, keepdims=keepdim)
        return Tensor._make(xp_of(x.array).asarray(r), None)

    op.__name__ = name
    op.__doc__ = f"Whether {name} elements are nonzero, over dim (all dims by default)."
    return op


all = _logical_reduce("all")
any = _logical_reduce("any")


def count_nonzero(input: Any, dim: Any = None) -> Tensor:
    x = as_operand(input)
    r = (x.array != 0).sum(axis=_axes("count_nonzero", dim, x.ndim))
    return Tensor._make(xp_of(x.array).asarray(r, dtype=np.int64), None)


def sum_to(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    return x if x.shape == tuple(shape) else SumTo(tuple(shape))(x)


def sum_to_size(input: Any, *size: Any) -> Tensor:
    from chainrule.operands import _shape_arg

    return sum_to(as_operand(input), _shape_arg(size))


def broadcast_to(input: Any, shape: Any) -> Tensor:
    """input expanded to shape (a view; -1 keeps a dimension), as torch.broadcast_to."""
    x = as_operand(input)
    shape = tuple(int(s) for s in shape)
    lead = len(shape) - x.ndim
    if lead < 0:
        raise RuntimeError(
            f"broadcast_to: the number of sizes provided ({len(shape)}) must be greater or "
            f"equal to the number of dimensions in the tensor ({x.ndim})")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s
                  for i, s in enumerate(shape))
    if x.shape == shape:
        return x
    return as_view(BroadcastTo(shape)(x), x, lambda p: broadcast_to(p, shape))
