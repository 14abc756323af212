"""Selecting by index and by mask, with PyTorch's meanings: index_select (and its adjoint, adding
slices into zeros), masked_select, nonzero / argwhere, unique / unique_consecutive, and
F.one_hot. The writing counterparts (scatter, index_add, masked_scatter, ...) are in
ops/scatter.py.

Indices are int64 (or int32) tensors, arrays or lists, never negative (PyTorch refuses negative
indices in these functions, unlike in x[i]).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import (
    index_range,
    is_device_array,
    on_device_of,
    same_device,
    to_array,
    xp_of,
)
from chainrule.errors import ShapeError, dim_error
from chainrule.operands import as_operand
from chainrule.ops.shape import Clone, getitem
from chainrule.tensor import Tensor


def index_array(op: str, index: Any, like: Any = None) -> Any:
    """index as an integer array (a Tensor's own array), or PyTorch's dtype error; on the device
    of the array `like` (a host index tensor there is PyTorch's device error)."""
    if isinstance(index, Tensor):
        idx = index.array
        same_device(op, idx, like)
    else:
        idx = on_device_of(index if is_device_array(index) else to_array(index), like)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int32 or int64 for index, got {idx.dtype}; "
                           "convert it: index.long()")
    return idx


def check_bounds(op: str, idx: Any, size: int, dim: int) -> None:
    """Every index in [0, size), or PyTorch's error naming the first one outside."""
    lo, hi = index_range(idx)
    if lo < 0 or hi >= size:
        bad = lo if lo < 0 else hi
        raise IndexError(f"{op}(): index {bad} is out of bounds for dimension {dim} with size "
                         f"{size}")


def one_dim(op: str, dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise dim_error(op, dim, ndim)
    return int(dim) % n


def index_vector(op: str, index: Any, x: Tensor, dim: int) -> tuple[int, Any]:
    """(dim made non-negative, index as a 1-D integer array checked against x's size there)."""
    d = one_dim(op, dim, x.ndim)
    idx = index_array(op, index, x.array)
    if idx.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got shape "
                         f"{tuple(idx.shape)}; flatten it first: index.flatten()")
    idx = idx.reshape(-1)
    check_bounds(op, idx, x.shape[d] if x.ndim else 1, d)
    return d, idx


class IndexSelect(Function):
    """The slices of x at idx along dim (repeats allowed); backward: the gradient added back
    into those slices (repeats add up)."""

    saves = ""

    def __init__(self, dim: int, idx: Any) -> None:
        self.dim, self.idx = dim, idx

    def forward(self, x: Any) -> Any:
        return xp_of(x).take(x, self.idx, axis=self.dim)

    def backward(self, gy: Tensor) -> Tensor:
        return IndexAddTo(tuple(self.inputs[0].shape), self.dim, self.idx)(gy)


class IndexAddTo(Function):
    """zeros(shape) with the slices of g added at idx along dim (repeats add up): the backward
    of index_select, and index_select is its backward."""

    saves = ""

    def __init__(self, shape: tuple[int, ...], dim: int, idx: Any) -> None:
        self.shape, self.dim, self.idx = shape, dim, idx

    def forward(self, g: Any) -> Any:
        xp = xp_of(g)
        out = xp.zeros(self.shape, dtype=g.dtype)
        xp.add.at(out, (slice(None),) * self.dim + (self.idx,), g)
        return out

    def backward(self, gg: Tensor) -> Tensor:
        return IndexSelect(self.dim, self.idx)(gg)


class NotDifferentiable(Function):
    """The result of an op PyTorch records but does not differentiate (unique, scatter with
    reduce=): it requires grad when its input does, and a backward through it raises PyTorch's
    error."""

    saves = ""

    def __init__(self, op: str, y: Any, hint: str = "") -> None:
        self.op, self.y, self.hint = op, y, hint

    def forward(self, *xs: Any) -> Any:
        return self.y

    def backward(self, *gys: Tensor) -> Any:
        raise NotImplementedError(f"the derivative for '{self.op}' is not implemented (as in "
                                  f"PyTorch){self.hint}; detach() the result if no gradient "
                                  "should flow through it")


def index_select(input: Any, dim: int, index: Any) -> Tensor:
    """The slices of input at index (a 1-D or 0-d integer tensor) along dim, in index's order
    (repeats allowed); the dim keeps its place with size len(index)."""
    x = as_operand(input)
    d, idx = index_vector("index_select", index, x, dim)
    if x.ndim == 0:
        if idx.size != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                               f"{idx.size} value(s)")
        return Clone()(x)
    return IndexSelect(d, idx)(x)


def masked_select(input: Any, mask: Any) -> Tensor:
    """The elements of input where mask (a bool tensor broadcasting with input) is True, as a
    1-D tensor in row-major order."""
    x = as_operand(input)
    m = mask.array if isinstance(mask, Tensor) else to_array(mask)
    if m.dtype != bool:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {m.dtype}; compare "
                           "first: x.masked_select(x > 0)")
    try:
        shape = np.broadcast_shapes(tuple(x.shape), m.shape)
    except ValueError:
        raise ShapeError(f"masked_select: mask of shape {m.shape} and input of shape "
                         f"{tuple(x.shape)} do not broadcast together") from None
    if tuple(x.shape) != shape:
        x = x.expand(shape)
    return getitem(x, xp_of(m).broadcast_to(m, shape))


def nonzero(input: Any, *, out: Any = None, as_tuple: bool = False) -> Any:
    """The indices of the nonzero elements: an int64 tensor of shape (count, ndim), or with
    as_tuple=True one 1-D int64 tensor per dim (a 0-d input counts as 1-D there)."""
    if out is not None:
        raise TypeError("nonzero: out= is not supported; assign the result instead")
    a = as_operand(input).array
    xp = xp_of(a)
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64), None)
                     for i in xp.nonzero(a.reshape(1) if a.ndim == 0 else a))
    return Tensor._make(xp.argwhere(a).astype(np.int64), None)


def argwhere(input: Any) -> Tensor:
    """nonzero(input): the (count, ndim) int64 indices of the nonzero elements."""
    return nonzero(input)


def _not_differentiable(op: str, x: Tensor, y: Any) -> Tensor:
    return NotDifferentiable(op, y)(x) if y.dtype.kind in "fc" else Tensor._make(y, None)


def _with(op: str, x: Tensor, values: Any, inverse: Any, counts: Any, return_inverse: bool,
          return_counts: bool) -> Any:
    out = _not_differentiable(op, x, values)
    extra = []
    if return_inverse:
        extra.append(Tensor._make(inverse.astype(np.int64), None))
    if return_counts:
        extra.append(Tensor._make(counts.astype(np.int64), None))
    return (out, *extra) if extra else out


def unique(input: Any, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The distinct elements (or, with dim, the distinct slices along dim), sorted; with
    return_inverse the index of each input element (slice) in the result, with return_counts how
    often each occurs. NaNs are all distinct, as in PyTorch. Not differentiable."""
    x = as_operand(input)
    a = x.array
    xp = xp_of(a)
    if dim is None:
        values, inverse, counts = xp.unique(a.reshape(-1), return_inverse=True,
                                            return_counts=True, equal_nan=False)
        return _with("unique", x, values, inverse.reshape(a.shape), counts, return_inverse,
                     return_counts)
    d = one_dim("unique", dim, a.ndim)
    if a.ndim == 0:
        raise dim_error("unique", dim, 0)
    if any(s == 0 for k, s in enumerate(a.shape) if k != d):
        raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique "
                           "cannot be applied")
    if a.shape[d] == 0:
        empty = xp.zeros(0, np.int64)
        return _with("unique", x, a.copy(), empty, empty, return_inverse, return_counts)
    values, inverse, counts = xp.unique(a, return_inverse=True, return_counts=True, axis=d,
                                        equal_nan=False)
    return _with("unique", x, values, inverse.reshape(-1), counts, return_inverse,
                 return_counts)


def unique_consecutive(input: Any, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None) -> Any:
    """Each run of equal consecutive elements (slices along dim) squeezed to one, with
    return_inverse the run of each input element, with return_counts the length of each run."""
    x = as_operand(input)
    a = x.array
    xp = xp_of(a)
    if dim is None:
        flat = a.reshape(-1)
        change = flat[1:] != flat[:-1]
        shape, d = a.shape, 0
    else:
        d = one_dim("unique_consecutive", dim, a.ndim)
        a = a.reshape(1) if a.ndim == 0 else a
        rows = a.shape[d]
        flat = xp.moveaxis(a, d, 0).reshape(rows, a.size // rows if rows else 0)
        change = (flat[1:] != flat[:-1]).any(axis=1)
        shape = (rows,)
    starts = xp.concatenate([xp.ones(1, bool), change]) if len(flat) else xp.zeros(0, bool)
    inverse = xp.cumsum(starts) - 1
    counts = xp.diff(xp.append(xp.flatnonzero(starts), len(flat)))
    if dim is None:
        values = flat[starts]
    else:
        values = xp.compress(starts, a, axis=d)
    return _with("unique_consecutive", x, values, inverse.reshape(shape), counts,
                 return_inverse, return_counts)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """F.one_hot: an int64 tensor of shape tensor.shape + (num_classes,) with a 1 at each
    class index (tensor must be int64; num_classes=-1 takes max + 1)."""
    t = as_operand(tensor)
    a = t.array
    if a.dtype != np.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor "
                           f"(got {t.dtype}); convert it: tensor.long()")
    xp = xp_of(a)
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size and a.min() < 0:
        raise RuntimeError(f"Class values must be non-negative (got {int(a.min())}).")
    if a.size and a.max() >= num_classes:
        raise RuntimeError(f"Class values must be smaller than num_classes (got "
                           f"{int(a.max())} with num_classes={num_classes}).")
    if num_classes < 0:
        raise RuntimeError(f"one_hot: num_classes must be -1 or non-negative, got {num_classes}")
    out = (a[..., None] == xp.arange(num_classes)).astype(np.int64)
    return Tensor._make(out, None)
