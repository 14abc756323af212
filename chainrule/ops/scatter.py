"""Writing by index, out of place, with PyTorch's meanings and gradients: scatter (a src tensor
or a value, with reduce= as PyTorch allows), scatter_add and scatter_reduce ('sum', 'prod',
'mean', 'amax', 'amin', include_self). The in-place forms (x.scatter_(...)) are these results
written back by chainrule.inplace; index_add, index_fill, index_copy and masked_scatter are in
ops/index_write.py.

Along dim, scatter writes src[i][j] to out[index[i][j]][j] (for dim=0): index has input's number
of dims, and only its own extent of src is read (src may be larger).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import host_any, xp_of
from chainrule.errors import ShapeError
from chainrule.modes import is_grad_enabled
from chainrule.operands import as_operand
from chainrule.ops.elementwise import Scale, where
from chainrule.ops.indexing import (
    NotDifferentiable,
    check_bounds,
    index_array,
    one_dim,
)
from chainrule.ops.select import Gather, ScatterAdd, _along
from chainrule.ops.shape import Clone, getitem
from chainrule.tensor import Tensor

_REDUCE = {"sum": "add", "prod": "multiply", "mean": "add", "amax": "maximum",
           "amin": "minimum", "max": "maximum", "min": "minimum"}


def _same_dtype(op: str, x: Tensor, s: Tensor, what: str = "src") -> None:
    if s.array.dtype != x.array.dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to {what}.dtype (got "
                           f"{x.dtype} and {s.dtype}); convert one: {what}.to(self.dtype)")


def _scatter_index(op: str, x: Tensor, dim: int, index: Any, src: Tensor | None) -> tuple:
    """(dim, index array) checked as PyTorch checks them: as many dims as self (0-d counts as
    1-D), no larger than self apart from dim, no larger than src, every index in range."""
    d = one_dim(op, dim, x.ndim)
    idx = index_array(op, index, x.array)
    if idx.size == 0:
        return d, idx
    nd = max(x.ndim, 1)
    if max(idx.ndim, 1) != nd:
        raise ShapeError(f"{op}(): Index tensor must have the same number of dimensions as self "
                         f"tensor ({idx.ndim} vs {x.ndim})")
    if src is not None and max(src.ndim, 1) != max(idx.ndim, 1):
        raise ShapeError(f"{op}(): Index tensor must have the same number of dimensions as src "
                         f"tensor ({idx.ndim} vs {src.ndim})")
    ishape = idx.shape or (1,)
    xshape = tuple(x.shape) or (1,)
    sshape = None if src is None else (tuple(src.shape) or (1,))
    if any(ishape[k] > xshape[k] for k in range(nd) if k != d) or (
            sshape is not None and any(ishape[k] > sshape[k] for k in range(nd))):
        more = "" if src is None else f" and to be no larger size than src {list(sshape)}"
        raise RuntimeError(f"Expected index {list(ishape)} to be no larger than self "
                           f"{list(xshape)} apart from dimension {d}{more}")
    check_bounds(op, idx, xshape[d], d)
    return d, idx


def _region(s: Tensor, shape: tuple[int, ...]) -> Tensor:
    """The leading `shape` block of s (the part of src that scatter reads)."""
    if tuple(s.shape) == tuple(shape):
        return s
    return getitem(s, tuple(slice(0, n) for n in shape))


def _hit(shape: tuple[int, ...], d: int, idx: Any, like: Any) -> Any:
    """A bool mask of `shape`, True where index writes."""
    m = xp_of(like).zeros(shape, dtype=bool)
    if idx.size:
        m[_along(idx, d)] = True
    return m


class ScatterSrc(Function):
    """x with s written at the positions index names along dim; backward: the gradient with
    those positions zeroed for x, gathered from them for s."""

    saves = ""

    def __init__(self, dim: int, idx: Any) -> None:
        self.dim, self.idx = dim, idx

    def forward(self, x: Any, s: Any) -> Any:
        out = x.copy()
        out[_along(self.idx, self.dim)] = s
        return out

    def backward(self, gy: Tensor) -> tuple:
        n = self.needs_input_grad
        gx = gs = None
        if n[0]:
            keep = ~_hit(gy.array.shape, self.dim, self.idx, gy.array)
            gx = Scale(keep.astype(gy.array.dtype))(gy)
        if n[1]:
            gs = Gather(self.dim, self.idx)(gy)
        return gx, gs


def _flat(fn: Any) -> Any:
    """fn on tensors with at least one dim: PyTorch treats a 0-d self, index and src as 1-D."""
    def call(x: Tensor, idx: Any, s: Any, *args: Any) -> Tensor:
        if x.ndim:
            return fn(x, idx, s, *args)
        s1 = s.reshape(-1) if isinstance(s, Tensor) else s
        return fn(x.reshape(1), idx.reshape(-1), s1, *args).reshape(())
    return call


def scatter(input: Any, dim: int, index: Any, src: Any = None, value: Any = None, *,
            reduce: str | None = None) -> Tensor:
    """A copy of input with src (a tensor, read over index's extent) or value (a number) written
    at the positions index names along dim; with reduce='add' or 'multiply' combined with what
    is there instead (not differentiable, as in PyTorch: use scatter_add or scatter_reduce)."""
    x = as_operand(input)
    if src is not None and not isinstance(src, Tensor) and value is None:
        src, value = None, src  # scatter(dim, index, 2.0): a number is the value
    if (src is None) == (value is None):
        raise TypeError("scatter() needs exactly one of src (a tensor) and value (a number)")
    s = None if src is None else as_operand(src)
    d, idx = _scatter_index("scatter", x, dim, index, s)
    if s is not None:
        _same_dtype("scatter", x, s)
    if reduce is not None:
        return _scatter_reduce_legacy(x, d, idx, s, value, reduce)
    if idx.size == 0:
        return Clone()(x)
    if s is None:
        v = Tensor._make(xp_of(x.array).asarray(value, dtype=x.array.dtype), None)
        return where(_hit(tuple(x.shape) or (1,), d, idx.reshape(idx.shape or (1,)),
                          x.array).reshape(x.shape), v, x)
    return _flat(lambda x1, i1, s1: ScatterSrc(d, i1)(x1, _region(s1, i1.shape)))(x, idx, s)


def _scatter_reduce_legacy(x: Tensor, d: int, idx: Any, s: Tensor | None, value: Any,
                           reduce: str) -> Tensor:
    if reduce not in ("add", "multiply"):
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce!r}")
    a = x.array.copy()
    a1 = a.reshape(a.shape or (1,))
    i1 = idx.reshape(idx.shape or (1,))
    if i1.size:
        v = xp_of(a).asarray(value, dtype=a.dtype) if s is None else \
            _region(s.reshape(s.shape or (1,)), i1.shape).array
        getattr(xp_of(a), reduce).at(a1, _along(i1, d), v)
    ins = (x,) if s is None else (x, s)
    return NotDifferentiable("scatter", a, " with reduce=; scatter_add and scatter_reduce are "
                             "differentiable")(*ins)


def scatter_add(input: Any, dim: int, index: Any, src: Any) -> Tensor:
    """A copy of input with src (read over index's extent) added at the positions index names
    along dim (repeated positions add up)."""
    x, s = as_operand(input), as_operand(src)
    d, idx = _scatter_index("scatter_add", x, dim, index, s)
    _same_dtype("scatter_add", x, s)
    if idx.size == 0:
        return Clone()(x)
    return _flat(lambda x1, i1, s1: x1 + ScatterAdd(tuple(x1.shape), d, i1)(
        _region(s1, i1.shape)))(x, idx, s)


class ScatterReduce(Function):
    """x with the src values at each position index names combined with it by reduce; with
    include_self=False the values of x there are left out. Backward: PyTorch's formulas (mean:
    divided by the count; amax/amin: shared evenly among ties; prod: the product of the others,
    with zeros handled exactly)."""

    def __init__(self, dim: int, idx: Any, reduce: str, include_self: bool) -> None:
        self.dim, self.idx, self.reduce, self.include_self = dim, idx, reduce, include_self

    saves = "inputs out"  # what PyTorch saves for every reduce (prod and amax/amin read them)

    def forward(self, x: Any, s: Any) -> Any:
        xp = xp_of(x)
        pos = _along(self.idx, self.dim)
        out = x.copy()
        if not self.include_self:
            out[pos] = _identity(self.reduce, x.dtype)
        getattr(xp, _REDUCE[self.reduce]).at(out, pos, s)
        if self.reduce == "mean":
            n = self.counts(x.shape, xp).astype(x.dtype)
            out = out / n if x.dtype.kind in "fc" else xp.floor_divide(out, n)
        return out

    def counts(self, shape: tuple[int, ...], xp: Any) -> Any:
        """How many values each position averages (never 0: a position with none keeps x)."""
        n = xp.full(shape, 1 if self.include_self else 0, dtype=np.int64)
        xp.add.at(n, _along(self.idx, self.dim), 1)
        return xp.maximum(n, 1)

    def backward(self, gy: Tensor) -> tuple:
        if self.reduce in ("max", "min"):  # PyTorch's forward takes these spellings, not this
            raise RuntimeError(f"Expected 'reduce' to be one of 'sum', 'prod', 'mean', 'amax', "
                               f"'amin' but got {self.reduce}.")
        x, s = self.inputs
        xp = xp_of(gy.array)
        dt = gy.array.dtype
        hit = _hit(tuple(x.shape), self.dim, self.idx, gy.array)
        if self.reduce == "sum":
            gx, gs = gy, Gather(self.dim, self.idx)(gy)
        elif self.reduce == "mean":
            g = Scale((1.0 / self.counts(tuple(x.shape), xp)).astype(dt))(gy)
            gx, gs = g, Gather(self.dim, self.idx)(g)
        elif self.reduce in ("amax", "amin"):
            gx, gs = self._ties(gy, hit)
        else:
            gx, gs = self._prod(gy)
        if not self.include_self:
            gx = Scale((~hit).astype(dt))(gx)
        n = self.needs_input_grad
        return (gx if n[0] else None), (gs if n[1] else None)

    def _ties(self, gy: Tensor, hit: Any) -> tuple:
        """The gradient of each result shared evenly by the values equal to it (an excluded x
        does not count among them: PyTorch 2.x counts it, a known bug that halves the gradient
        of src where an excluded x happens to equal the result)."""
        x, s = (t.array for t in self.inputs)
        y = self.output.array
        xp = xp_of(y)
        dt = gy.array.dtype
        x_is = x == y
        if not self.include_self:
            x_is &= ~hit
        s_is = s == y[_along(self.idx, self.dim)]
        count = x_is.astype(dt)
        xp.add.at(count, _along(self.idx, self.dim), s_is.astype(dt))
        share = Scale((1.0 / count).astype(dt))(gy)
        gx = Scale(x_is.astype(dt))(share)
        gs = Scale(s_is.astype(dt))(Gather(self.dim, self.idx)(share))
        return gx, gs

    def _prod(self, gy: Tensor) -> tuple:
        """PyTorch's prod gradient: for x, the product of the others (x's zeros replaced by 1
        first); for src, result / src, or, for the one zero at its position, the product of the
        others."""
        x, s = self.inputs
        d, idx, inc = self.dim, self.idx, self.include_self
        xa, sa = x.array, s.array
        x1 = where(xa == 0, 1.0, x)
        gx = gy * ScatterReduce(d, idx, "prod", inc)(x1, s) / x1
        s_zero = sa == 0
        zeros = xp_of(sa).zeros(xa.shape, dtype=np.int64)
        xp_of(sa).add.at(zeros, _along(idx, d), s_zero.astype(np.int64))
        n_zero = zeros[_along(idx, d)]
        single = s_zero & (n_zero == 1)
        others = ScatterReduce(d, idx, "prod", inc)(x, where(single, 1.0, s))
        g1 = Gather(d, idx)(gy * others)
        g2 = Gather(d, idx)(gy * self.output) / where(s_zero, 1.0, s)
        gs = where(single, g1, g2)
        if is_grad_enabled() and host_any(n_zero > 1):
            gs = NotDifferentiable(
                "scatter_reduce", gs.array, ": double backward is unsupported for src when >1 "
                "zeros in src are scattered to the same position in self")(gs)
        return gx, gs


def _identity(reduce: str, dtype: Any) -> Any:
    """The value that leaves `reduce` unchanged (what an excluded x is replaced by)."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = np.inf if dtype.kind == "f" else np.iinfo(dtype).max
    low = -np.inf if dtype.kind == "f" else np.iinfo(dtype).min
    return low if reduce in ("amax", "max") else big


def scatter_reduce(input: Any, dim: int, index: Any, src: Any, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """A copy of input where each position index names (along dim) holds the reduction ('sum',
    'prod', 'mean', 'amax' or 'amin') of the src values sent there, together with input's own
    value unless include_self=False. Integer means round down, as in PyTorch."""
    x, s = as_operand(input), as_operand(src)
    if reduce not in _REDUCE:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    d, idx = _scatter_index("scatter_reduce", x, dim, index, s)
    _same_dtype("scatter_reduce", x, s)
    if idx.size == 0:
        return Clone()(x)
    return _flat(lambda x1, i1, s1: ScatterReduce(d, i1, reduce, bool(include_self))(
        x1, _region(s1, i1.shape)))(x, idx, s)
