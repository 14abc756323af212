"""Ops that pick elements by index: gather (and its adjoint, scatter-add along a dim), and the
value-selecting reductions built on it, each returning (values, indices) as PyTorch does:
max / min with a dim, median, kthvalue, sort, topk; argmax, argmin, argsort.

The gradient of a selected value goes to the one element it came from (PyTorch's rule for
max(dim), sort, topk); max() and median() of a whole tensor share it among ties instead.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import index_range, is_device_array, on_device_of, same_device, xp_of
from chainrule.errors import DimError, ShapeError, dim_error
from chainrule.operands import as_operand
from chainrule.ops.elementwise import Scale, maximum, minimum
from chainrule.ops.reduce import Max, Min, _axes, dim_args, no_out
from chainrule.tensor import Tensor

# PyTorch's torch.return_types: tuples whose fields are also named
max_t = namedtuple("max", ["values", "indices"])
min_t = namedtuple("min", ["values", "indices"])
median_t = namedtuple("median", ["values", "indices"])
kthvalue_t = namedtuple("kthvalue", ["values", "indices"])
sort_t = namedtuple("sort", ["values", "indices"])
topk_t = namedtuple("topk", ["values", "indices"])
mode_t = namedtuple("mode", ["values", "indices"])


def _along(idx: Any, dim: int) -> tuple:
    """The full fancy index that take_along_axis builds for `idx` along `dim`."""
    xp = xp_of(idx)
    grids = xp.indices(idx.shape, sparse=True)
    return tuple(idx if d == dim else g for d, g in enumerate(grids))


class Gather(Function):
    """out[..., i, ...] = x[..., idx[..., i, ...], ...] along dim (torch.gather); the backward
    adds the gradient back at the gathered positions."""

    saves = ""

    def __init__(self, dim: int, index: Any) -> None:
        self.dim, self.index = dim, index

    def forward(self, x: Any) -> Any:
        return x[_along(self.index, self.dim)]

    def backward(self, gy: Tensor) -> Tensor:
        return ScatterAdd(self.inputs[0].shape, self.dim, self.index)(gy)


class ScatterAdd(Function):
    """zeros(shape) with g added at the positions index names along dim (repeats add up):
    the backward of gather, and gather is its backward."""

    saves = ""

    def __init__(self, shape: tuple[int, ...], dim: int, index: Any) -> None:
        self.shape, self.dim, self.index = tuple(shape), dim, index

    def forward(self, g: Any) -> Any:
        xp = xp_of(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.add.at(out, _along(self.index, self.dim), g)
        return out

    def backward(self, gg: Tensor) -> Tensor:
        return Gather(self.dim, self.index)(gg)


def _index_array(op: str, index: Any, ndim: int, like: Any = None) -> Any:
    if isinstance(index, Tensor):
        idx = index.array
        same_device(op, idx, like)
    else:
        idx = on_device_of(index if is_device_array(index) else np.asarray(index), like)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got {idx.dtype}")
    if idx.ndim != ndim and not (idx.ndim <= 1 and ndim <= 1):
        raise ShapeError(f"{op}(): Index tensor must have the same number of dimensions as "
                         f"input tensor ({idx.ndim} vs {ndim})")
    return idx


def gather(input: Any, dim: int, index: Any, *, sparse_grad: bool = False) -> Tensor:
    """out[i][j][k] = input[index[i][j][k]][j][k] for dim=0 (and likewise for other dims)."""
    x = as_operand(input)
    d = _axes("gather", dim, x.ndim)[0] if x.ndim else 0
    idx = _index_array("gather", index, x.ndim, x.array)
    if x.ndim == 0:
        return x.reshape(idx.shape) * 1
    for k in range(x.ndim):
        if k != d and idx.shape[k] > x.shape[k]:
            raise ShapeError(f"gather(): Size does not match at dimension {k}: index "
                             f"{tuple(idx.shape)} vs input {tuple(x.shape)}")
    lo, hi = index_range(idx)
    if lo < 0 or hi >= x.shape[d]:  # no wrapping, as in PyTorch
        bad = lo if lo < 0 else hi
        raise ShapeError(f"gather(): index {bad} is out of bounds for dimension {d} with size "
                         f"{x.shape[d]}")
    if any(idx.shape[k] < x.shape[k] for k in range(x.ndim) if k != d):
        x = x[tuple(slice(0, n) if k != d else slice(None) for k, n in enumerate(idx.shape))]
    return Gather(d, idx)(x)


def take_along_dim(input: Any, indices: Any, dim: int | None = None) -> Tensor:
    x = as_operand(input)
    if dim is None:
        return gather(x.reshape(-1), 0, as_operand(indices).reshape(-1))
    return gather(x, dim, indices)


def _pick(op: str, x: Tensor, dim: int, idx: Any, keepdim: bool, kind: Any) -> Any:
    """(values, indices) for indices idx (with dim kept, size 1) into x along dim."""
    values = Gather(dim, idx)(x)
    indices = Tensor._make(idx.astype(np.int64, copy=False), None)
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return kind(values, indices)


def _one_dim(op: str, x: Tensor, dim: Any) -> int:
    if x.ndim == 0:
        if dim not in (0, -1):
            raise dim_error(op, dim, 0)
        return 0
    return _axes(op, dim, x.ndim)[0]


def _reduce_pick(op: str, x: Tensor, dim: Any, keepdim: bool, kind: Any, arg: str) -> Any:
    if x.ndim == 0:
        return _scalar_pick(x, kind)
    d = _one_dim(op, x, dim)
    if x.shape[d] == 0:
        raise DimError(f"{op}: Expected reduction dim {d} to have non-zero size (the input has "
                       f"shape {tuple(x.shape)})")
    idx = getattr(x.array, arg)(axis=d)  # NumPy's argmax, like PyTorch's max, picks NaN
    return _pick(op, x, d, xp_of(idx).expand_dims(idx, d), keepdim, kind)


def max(input: Any, dim: Any = None, keepdim: bool = False, *, out: Any = None,
        axis: Any = None, keepdims: Any = None) -> Any:
    """max(x): the largest element (0-d); max(x, dim): (values, indices) along dim;
    max(x, other): the elementwise maximum, as in PyTorch."""
    no_out("max", out)
    x = as_operand(input)
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    dim, keepdim = dim_args("max", dim, keepdim, axis, keepdims)
    if dim is None:
        return Max(None, False)(x)
    return _reduce_pick("max", x, dim, keepdim, max_t, "argmax")


def min(input: Any, dim: Any = None, keepdim: bool = False, *, out: Any = None,
        axis: Any = None, keepdims: Any = None) -> Any:
    """min(x), min(x, dim) -> (values, indices), min(x, other): as max."""
    no_out("min", out)
    x = as_operand(input)
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    dim, keepdim = dim_args("min", dim, keepdim, axis, keepdims)
    if dim is None:
        return Min(None, False)(x)
    return _reduce_pick("min", x, dim, keepdim, min_t, "argmin")


def _arg(name: str) -> Any:
    def arg(input: Any, dim: Any = None, keepdim: bool = False, *,
            axis: Any = None, keepdims: Any = None, out: Any = None) -> Tensor:
        no_out(name, out)
        x = as_operand(input)
        dim, keepdim = dim_args(name, dim, keepdim, axis, keepdims)
        if dim is None:
            if x.numel() == 0:
                raise ShapeError(f"{name}(): Expected reduction dim to be specified for "
                                 "input.numel() == 0.")
            r = getattr(x.array.reshape(-1), name)()
            if keepdim:
                r = xp_of(x.array).asarray(r).reshape((1,) * x.ndim)
            return Tensor._make(xp_of(x.array).asarray(r, dtype=np.int64), None)
        d = _one_dim(name, x, dim)
        if x.ndim and x.shape[d] == 0:
            raise DimError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        r = getattr(x.array, name)(axis=d if x.ndim else None, keepdims=keepdim)
        return Tensor._make(xp_of(x.array).asarray(r, dtype=np.int64), None)

    arg.__name__ = name
    arg.__doc__ = f"Indices of the {name[3:]}ima along dim (of the flattened tensor without " \
        "one); int64, not differentiable."
    return arg


argmax = _arg("argmax")
argmin = _arg("argmin")


def _sort_indices(a: Any, dim: int, descending: bool) -> Any:
    """Stable sort order along dim; descending keeps ties in their original order and puts
    NaN first, ascending puts NaN last (PyTorch's order)."""
    xp = xp_of(a)
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")
    n = a.shape[dim]
    rev = xp.flip(xp.argsort(xp.flip(a, dim), axis=dim, kind="stable"), dim)
    return (n - 1) - rev


def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """(values, indices) sorted along dim; stable (ties keep their order) in any case."""
    x = as_operand(input)
    if x.ndim == 0:
        return _scalar_pick(x, sort_t)
    d = _one_dim("sort", x, dim)
    return _pick("sort", x, d, _sort_indices(x.array, d, descending), True, sort_t)


def argsort(input: Any, dim: int = -1, descending: bool = False,
            stable: bool = False) -> Tensor:
    return sort(input, dim, descending, stable).indices


def msort(input: Any) -> Tensor:
    return sort(input, 0).values


def _k_sorted(op: str, x: Tensor, dim: int, k: int, lo: int, descending: bool) -> Any:
    """(dim, the first k indices of the stable sort along dim), k checked from lo."""
    d = _one_dim(op, x, dim)
    n = x.shape[d] if x.ndim else 1
    if not lo <= k <= n:
        raise DimError(f"{op}: selected number k ({k}) out of range for dimension {d} of size "
                       f"{n}")
    if x.ndim == 0:
        return d, None
    order = _sort_indices(x.array, d, descending)
    return d, order[(slice(None),) * d + (slice(0, k),)]


def _scalar_pick(x: Tensor, kind: Any) -> Any:
    return kind(x * 1, Tensor._make(np.zeros((), np.int64), None))


def topk(input: Any, k: int, dim: int = -1, largest: bool = True,
         sorted: bool = True) -> Any:  # noqa: A002
    """The k largest (or smallest) elements along dim, as (values, indices)."""
    x = as_operand(input)
    d, idx = _k_sorted("topk", x, dim, k, 0, largest)
    return _scalar_pick(x, topk_t) if idx is None else _pick("topk", x, d, idx, True, topk_t)


def kthvalue(input: Any, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """The k-th smallest element (k from 1) along dim, as (values, indices)."""
    x = as_operand(input)
    d, idx = _k_sorted("kthvalue", x, dim, k, 1, False)
    if idx is None:
        return _scalar_pick(x, kthvalue_t)
    return _pick("kthvalue", x, d, idx[(slice(None),) * d + (slice(k - 1, k),)], keepdim,
                 kthvalue_t)


def median(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """median(x): the lower median of all elements (0-d, its gradient shared among elements
    equal to it); median(x, dim): (values, indices) of the lower median along dim."""
    x = as_operand(input)
    if dim is None:
        if x.numel() == 0:
            return Tensor._make(xp_of(x.array).asarray(np.nan, x.array.dtype), None)
        a = x.array.reshape(-1)
        k = (a.shape[0] - 1) // 2
        v = a[_sort_indices(a, 0, False)[k]]
        return _MedianAll(v)(x)
    d = _one_dim("median", x, dim)
    n = x.shape[d] if x.ndim else 1
    if n == 0:
        raise DimError(f"median(): Expected reduction dim {d} to have non-zero size.")
    return median_t(*kthvalue(x, (n - 1) // 2 + 1, d, keepdim))


class _MedianAll(Function):
    """The whole-tensor median m of x, with m's gradient shared evenly by the elements of x
    equal to m (PyTorch's rule for median() without a dim)."""

    saves = "0"

    def __init__(self, m: Any) -> None:
        self.m = m

    def forward(self, x: Any) -> Any:
        return xp_of(x).asarray(self.m).copy()

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        hit = x.array == self.m
        w = (hit / hit.sum()).astype(x.array.dtype)
        return Scale(w)(gy.expand(tuple(x.shape)) if x.ndim else gy)


def nanmedian(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    raise NotImplementedError("nanmedian is not implemented yet; drop the NaNs first with "
                              "x[~x.isnan()] and call median()")
