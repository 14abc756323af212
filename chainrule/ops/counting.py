"""Searching and counting, with PyTorch's meanings: searchsorted / bucketize, bincount, histc and
isin. Their results are integers or bools (bincount with float weights: floats that a backward
refuses, as in PyTorch), so none of them is differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import index_range, to_array, xp_of
from chainrule.operands import as_operand
from chainrule.ops.indexing import NotDifferentiable
from chainrule.ops.math_more import _torch_kind
from chainrule.tensor import Tensor


def _long(a: Any) -> Tensor:
    return Tensor._make(xp_of(a).asarray(a, dtype=np.int64), None)


def _kind(x: Tensor) -> str:
    return _torch_kind(x.array.dtype)


def _values_of(v: Any, like: Any) -> Any:
    if isinstance(v, Tensor):
        return v.array
    return xp_of(like).asarray(v)


def searchsorted(sorted_sequence: Any, input: Any, *, out_int32: bool = False,
                 right: bool = False, side: str | None = None, sorter: Any = None) -> Tensor:
    """For each value, the index at which it would be inserted into sorted_sequence (along its
    last dim) to keep it sorted: before equal elements (side='left') or after them ('right' or
    right=True). A 1-D sequence serves every value; an N-D one needs values with the same
    leading dims. int64 (int32 with out_int32)."""
    if side not in (None, "left", "right"):
        raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got "
                           f"{side}")
    if side == "left" and right:
        raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got "
                           "side of left while right was True")
    b = as_operand(sorted_sequence).array
    v = _values_of(input, b)
    if b.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive "
                           "dimension, but got 0 dimension")
    if b.ndim > 1 and b.shape[:-1] != v.shape[:-1]:
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(b.shape)} and input value tensor {list(v.shape)}")
    xp = xp_of(b)
    if b.dtype == np.bool_ or v.dtype == np.bool_:
        raise NotImplementedError('"searchsorted_out_cpu" not implemented for \'Bool\'')
    if sorter is not None:
        s = as_operand(sorter).array
        if s.shape != b.shape:
            raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same "
                               f"size, but got boundary tensor {list(b.shape)}and got sorter "
                               f"tensor {list(s.shape)}")
        if s.size and (s.min() < 0 or s.max() >= b.shape[-1]):
            raise RuntimeError("torch.searchsorted(): sorter index out of range")
        b = xp.take_along_axis(b, s, axis=-1)
    n = b.shape[-1]
    rows_b = b.reshape(int(np.prod(b.shape[:-1])), n)
    rows_v = v.reshape(v.size, 1) if b.ndim == 1 else v.reshape(rows_b.shape[0], v.shape[-1])
    out = _bisect(rows_b, rows_v, right or side == "right").reshape(v.shape)
    return Tensor._make(out.astype(np.int32 if out_int32 else np.int64), None)


def _bisect(b: Any, v: Any, right: bool) -> Any:
    """PyTorch's binary search, vectorized: for rows b (R or 1, n) and values v (R, m), the
    first position whose element is >= v (> v when right). Every comparison with a NaN is
    false, so a NaN value, or a NaN met in the sequence, moves the search right, as there."""
    xp = xp_of(b)
    n = b.shape[-1]
    lo = xp.zeros(v.shape, np.int64)
    hi = xp.full(v.shape, n, np.int64)
    rows = xp.arange(b.shape[0]).reshape(-1, 1) if b.shape[0] != 1 else 0
    for _ in range(n.bit_length()):
        mid = (lo + hi) // 2
        active = lo < hi
        m = b[rows, xp.minimum(mid, n - 1)] if n else v
        with np.errstate(invalid="ignore"):
            go_right = ~(m > v) if right else ~(m >= v)
        lo = xp.where(active & go_right, mid + 1, lo)
        hi = xp.where(active & ~go_right, mid, hi)
    return lo


def bucketize(input: Any, boundaries: Any, *, out_int32: bool = False,
              right: bool = False) -> Tensor:
    """The bucket of each value among the sorted 1-D boundaries: i with boundaries[i-1] < x <=
    boundaries[i] (right=False) or boundaries[i-1] <= x < boundaries[i] (right=True)."""
    b = as_operand(boundaries)
    if b.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({b.ndim})")
    return searchsorted(b, input, out_int32=out_int32, right=right)


def bincount(input: Any, weights: Any = None, minlength: int = 0) -> Tensor:
    """Counts of each value of a 1-D tensor of non-negative integers (at least minlength bins);
    with weights, their sums instead (float32 weights give float32, others float64)."""
    x = as_operand(input)
    a = x.array
    if a.dtype.kind not in "iu" or a.dtype == np.bool_:
        raise NotImplementedError(f'"bincount_cpu" not implemented for \'{_kind(x)}\'')
    if a.ndim != 1 or (a.size and index_range(a)[0] < 0):  # the size needs the max anyway
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    xp = xp_of(a)
    if weights is None or a.size == 0:  # PyTorch: an empty input gives int64 counts, weighted too
        return _long(xp.bincount(a, minlength=minlength))
    w = as_operand(weights)
    if w.ndim != 1 or w.shape[0] != a.shape[0]:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    dt = w.array.dtype if w.array.dtype in (np.float32, np.float64) else np.float64
    y = xp.bincount(a, weights=w.array.astype(np.float64), minlength=minlength).astype(dt)
    return NotDifferentiable("bincount", y)(w) if w.requires_grad else Tensor._make(y, None)


def histc(input: Any, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """A histogram of the elements in bins equal-width bins over [min, max] (the data's range
    when min == max); elements outside, and NaNs, are left out; the input's dtype."""
    x = as_operand(input)
    a = x.array
    if a.dtype.kind not in "f":
        raise NotImplementedError(f'"histogram_cpu" not implemented for \'{_kind(x)}\'')
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = a.min().item(), a.max().item()  # the range, copied to the host explicitly
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo:g}, {hi:g}] is not finite")
    if lo >= hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    xp = xp_of(a)
    left, right = a.dtype.type(lo), a.dtype.type(hi)  # linspace's ends, in the input's dtype
    v = a.reshape(-1)
    v = v[(v >= left) & (v <= right)]
    # the kernel's arithmetic, in the input's dtype: (x - left) * bins / (right - left)
    pos = ((v - left) * a.dtype.type(bins) / (right - left)).astype(np.int64)
    pos = xp.minimum(pos, bins - 1)
    return Tensor._make(xp.bincount(pos, minlength=bins).astype(a.dtype), None)


def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    """Whether each element of elements is among test_elements (either may be a number);
    bool, of elements' shape."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): at least one of elements and test_elements must be a Tensor")
    like = (elements if isinstance(elements, Tensor) else test_elements).array
    e = elements.array if isinstance(elements, Tensor) else to_array(elements)
    t = test_elements.array if isinstance(test_elements, Tensor) else xp_of(like).asarray(
        test_elements)
    for arr in (e, t):
        if arr.dtype == np.bool_:
            raise RuntimeError("Unsupported input type encountered for isin(): Bool")
    xp = xp_of(like)
    r = xp.isin(e, t, invert=invert)
    return Tensor._make(xp.asarray(r, dtype=bool), None)
