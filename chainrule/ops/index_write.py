"""Writing whole slices along a dim, and by mask, out of place, with PyTorch's meanings and
gradients: index_add (alpha=), index_fill (a number or a 0-d tensor), index_copy, masked_fill and
masked_scatter. The in-place forms (x.index_add_(...)) are these results written back by
chainrule.inplace; scatter and its reductions are in ops/scatter.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.operands import as_operand
from chainrule.ops.elementwise import Scale, where
from chainrule.ops.indexing import IndexAddTo, IndexSelect, index_vector
from chainrule.ops.join import cat
from chainrule.ops.shape import Clone, getitem
from chainrule.tensor import Tensor


def _source_shape(op: str, x: Tensor, d: int, n: int, source: Tensor) -> None:
    want = tuple(n if k == d else s for k, s in enumerate(x.shape))
    if x.ndim and tuple(source.shape) != want:
        if source.ndim == x.ndim and source.shape[d] != n:
            exc = IndexError if op == "index_copy" else RuntimeError  # PyTorch's classes
            raise exc(f"{op}(): Number of indices ({n}) should be equal to source.size(dim) "
                      f"({source.shape[d]}), for dim: {d}")
        raise RuntimeError(f"{op}(): source tensor shape must match self tensor shape, "
                           f"excluding the specified dimension. Got self.shape = "
                           f"{list(x.shape)} source.shape = {list(source.shape)}")


def index_add(input: Any, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Tensor:
    """A copy of input with alpha * source's slices added at index along dim (repeated indices
    add up); source has input's shape but len(index) along dim."""
    x, s = as_operand(input), as_operand(source)
    d, idx = index_vector("index_add", index, x, dim)
    _source_shape("index_add", x, d, idx.size, s)
    if s.array.dtype != x.array.dtype:
        raise RuntimeError(f"index_add_(): self ({x.dtype}) and source ({s.dtype}) must have "
                           "the same scalar type")
    if alpha != 1:
        s = s * alpha
    if x.ndim == 0:
        return x + s.reshape(())
    return x + IndexAddTo(tuple(x.shape), d, idx)(s)


def _slices(x: Tensor, d: int, idx: Any) -> Any:
    """A bool mask of x's shape, True on the slices at idx along d."""
    m = xp_of(x.array).zeros(tuple(x.shape) or (1,), dtype=bool)
    m[(slice(None),) * d + (idx,)] = True
    return m.reshape(x.shape)


def index_fill(input: Any, dim: int, index: Any, value: Any) -> Tensor:
    """A copy of input with the slices at index along dim set to value (a number or a 0-d
    tensor, whose gradient is the sum of the gradient over those slices)."""
    x = as_operand(input)
    d, idx = index_vector("index_fill", index, x, dim)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        v = value.to(x.dtype)
    else:
        v = Tensor._make(xp_of(x.array).asarray(value, dtype=x.array.dtype), None)
    return where(_slices(x, d, idx), v, x)


class IndexCopy(Function):
    """x with source's slices copied to the slices at idx along dim (for a repeated index the
    last copy stays); backward: the gradient with those slices zeroed for x, and taken from them
    for source."""

    saves = ""

    def __init__(self, dim: int, idx: Any) -> None:
        self.dim, self.idx = dim, idx

    def forward(self, x: Any, s: Any) -> Any:
        out = x.copy()
        out[(slice(None),) * self.dim + (self.idx,)] = s
        return out

    def backward(self, gy: Tensor) -> tuple:
        n = self.needs_input_grad
        gx = gs = None
        if n[0]:
            keep = ~_slices(gy, self.dim, self.idx)
            gx = Scale(keep.astype(gy.array.dtype))(gy)
        if n[1]:
            gs = IndexSelect(self.dim, self.idx)(gy)
        return gx, gs


def index_copy(input: Any, dim: int, index: Any, source: Any) -> Tensor:
    """A copy of input with source's slices copied to the slices at index along dim."""
    x, s = as_operand(input), as_operand(source)
    d, idx = index_vector("index_copy", index, x, dim)
    _source_shape("index_copy", x, d, idx.size, s)
    if s.array.dtype != x.array.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, "
                           f"but got (self) {x.dtype} and (source) {s.dtype}")
    if x.ndim == 0:
        return Clone()(s.reshape(()))
    return IndexCopy(d, idx)(x, s)


class MaskedScatter(Function):
    """x with the first mask.sum() elements of s (in row-major order) written where mask is
    True; backward: the gradient with those positions zeroed for x, and for s the gradient at
    them, in order, then zeros for the elements of s left unused."""

    saves = ""

    def __init__(self, mask: Any, count: int) -> None:
        self.mask, self.count = mask, count  # count: mask.sum(), already on the host

    def forward(self, x: Any, s: Any) -> Any:
        out = x.copy()
        out[self.mask] = s.reshape(-1)[:self.count]
        return out

    def backward(self, gy: Tensor) -> tuple:
        n = self.needs_input_grad
        gx = gs = None
        if n[0]:
            gx = Scale((~self.mask).astype(gy.array.dtype))(gy)
        if n[1]:
            s = self.inputs[1]
            picked = getitem(gy, self.mask)
            rest = s.numel() - picked.numel()
            if rest:
                z = Tensor._make(xp_of(gy.array).zeros(rest, dtype=gy.array.dtype), None)
                picked = cat([picked, z])
            gs = picked.reshape(tuple(s.shape))
        return gx, gs


def masked_scatter(input: Any, mask: Any, source: Any) -> Tensor:
    """A copy of input (broadcast with mask) with source's elements, in row-major order,
    written where mask is True."""
    x, s = as_operand(input), as_operand(source)
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != bool:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                           f"dtype {m.dtype}")
    if s.array.dtype != x.array.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but "
                           f"got {x.dtype} and {s.dtype}")
    try:
        shape = np.broadcast_shapes(tuple(x.shape), m.shape)
    except ValueError:
        raise ShapeError(f"masked_scatter: mask of shape {m.shape} and input of shape "
                         f"{tuple(x.shape)} do not broadcast together") from None
    m = xp_of(x.array).broadcast_to(m, shape)
    ones = int(m.sum().item())  # an explicit host copy: PyTorch checks this too
    if ones > s.numel():
        raise RuntimeError(f"masked_scatter: Number of elements of source ({s.numel()}) < "
                           f"number of ones in mask ({ones})")
    if tuple(x.shape) != shape:
        x = x.expand(shape)
    return MaskedScatter(m, ones)(x, s)


def masked_fill(input: Any, mask: Any, value: Any) -> Tensor:
    """A copy of input (broadcast with mask) with the elements where mask is True set to value
    (a number or a 0-d tensor, whose gradient is the sum of the gradient there)."""
    x = as_operand(input)
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != bool:
        raise RuntimeError(f"masked_fill only supports boolean masks, but got mask with dtype "
                           f"{m.dtype}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value.ndim} dimension(s).")
        v = value.to(x.dtype)
    else:
        v = Tensor._make(xp_of(x.array).asarray(value, dtype=x.array.dtype), None)
    try:
        shape = np.broadcast_shapes(tuple(x.shape), m.shape)
    except ValueError:
        raise ShapeError(f"masked_fill: mask of shape {m.shape} and input of shape "
                         f"{tuple(x.shape)} do not broadcast together") from None
    return where(m, v, x if tuple(x.shape) == shape else x.expand(shape))
