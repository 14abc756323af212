"""Order statistics and running extremes, with PyTorch's meanings: cummax / cummin and
logcumsumexp; aminmax; quantile / nanquantile, mode and nanmedian. (Searching and counting,
searchsorted, bucketize, bincount, histc and isin, are in ops/counting.py.)

Value-selecting results ((values, indices) pairs, quantiles) are gathered from the input, so
their gradient goes to the elements they came from, as in PyTorch.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import host_any, xp_of
from chainrule.errors import DimError
from chainrule.operands import as_operand
from chainrule.ops.elementwise import Scale, exp, log, where
from chainrule.ops.indexing import one_dim
from chainrule.ops.join import flip
from chainrule.ops.reduce import amax, amin
from chainrule.ops.select import Gather
from chainrule.ops.shape import Clone
from chainrule.tensor import Tensor

cummax_t = namedtuple("cummax", ["values", "indices"])
cummin_t = namedtuple("cummin", ["values", "indices"])
aminmax_t = namedtuple("aminmax", ["min", "max"])
mode_t = namedtuple("mode", ["values", "indices"])
nanmedian_t = namedtuple("nanmedian", ["values", "indices"])


def _long(a: Any) -> Tensor:
    return Tensor._make(xp_of(a).asarray(a, dtype=np.int64), None)


def _last(a: Any, d: int) -> Any:
    """a with dim d moved last (a view)."""
    return xp_of(a).moveaxis(a, d, -1)


def _picked(kind: Any, x: Tensor, d: int, idx: Any, keepdim: bool) -> Any:
    """(values gathered from x at idx along d, idx as int64), dim d kept or squeezed."""
    values = Gather(d, idx)(x)
    indices = _long(idx)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return kind(values, indices)


def _scalar(kind: Any, x: Tensor, dim: Any, op: str) -> Any:
    one_dim(op, dim, 0)
    return kind(Clone()(x), _long(np.zeros((), np.int64)))


# -- running extremes ----------------------------------------------------------------------------
def _cum_extreme(op: str, input: Any, dim: int, kind: Any, largest: bool) -> Any:
    x = as_operand(input)
    if x.ndim == 0:
        return _scalar(kind, x, dim, op)
    d = one_dim(op, dim, x.ndim)
    a = x.array
    xp = xp_of(a)
    running = (xp.maximum if largest else xp.minimum).accumulate(a, axis=d)
    # the index moves to every element equal to the running extreme (>=: ties take the later
    # one) and to every NaN, which then stays the extreme: PyTorch's rule
    moved = a == running
    if a.dtype.kind in "fc":
        moved |= xp.isnan(a)
    shape = [1] * a.ndim
    shape[d] = a.shape[d]
    pos = xp.arange(a.shape[d]).reshape(shape)
    idx = xp.maximum.accumulate(xp.where(moved, pos, 0), axis=d) if a.size else \
        xp.zeros(a.shape, np.int64)
    return kind(Gather(d, idx)(x), _long(idx))


def cummax(input: Any, dim: int) -> Any:
    """(values, indices): the running maximum along dim and where it was taken (ties: the later
    element; a NaN stays the maximum from where it appears)."""
    return _cum_extreme("cummax", input, dim, cummax_t, True)


def cummin(input: Any, dim: int) -> Any:
    """(values, indices): the running minimum along dim, as cummax."""
    return _cum_extreme("cummin", input, dim, cummin_t, False)


class LogCumSumExp(Function):
    """log(cumsum(exp(x))) along dim, without overflow. Backward: PyTorch's formula, which sums
    the positive and the negative parts of the gradient in log space (stable for any range)."""

    saves = "0 out"

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x: Any) -> Any:
        with np.errstate(invalid="ignore"):
            return xp_of(x).logaddexp.accumulate(x, axis=self.dim)

    def backward(self, gy: Tensor) -> Tensor:
        x, out, d = self.inputs[0], self.output, self.dim
        g = gy.array
        lowest = float(np.finfo(g.dtype).min)
        log_abs = log(where(g != 0, gy.abs(), 1.0))

        def rev(t: Tensor) -> Tensor:
            return flip(LogCumSumExp(d)(flip(t, d)), d)

        with np.errstate(over="ignore"):  # lowest - out may round to -inf: exp gives 0, right
            pos = exp(rev(where(g > 0, log_abs, lowest) - out) + x)
            neg = exp(rev(where(g < 0, log_abs, lowest) - out) + x)
        return pos - neg


def logcumsumexp(input: Any, dim: int) -> Tensor:
    """log(cumsum(exp(input), dim)), computed stably; floating tensors only."""
    x = as_operand(input)
    if x.array.dtype.kind in "iub":
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for '
                                  f"'{_kind(x)}'; convert first: x.float()")
    if x.ndim == 0:
        one_dim("logcumsumexp", dim, 0)
        return Clone()(x)
    return LogCumSumExp(one_dim("logcumsumexp", dim, x.ndim))(x)


def _kind(x: Tensor) -> str:
    from chainrule.ops.math_more import _torch_kind

    return _torch_kind(x.array.dtype)


def aminmax(input: Any, *, dim: int | None = None, keepdim: bool = False) -> Any:
    """(min, max) over dim (all elements by default), each with amin's / amax's gradient (tied
    extremes share it evenly)."""
    x = as_operand(input)
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
        return aminmax_t(amin(x, (), keepdim), amax(x, (), keepdim))
    d = one_dim("aminmax", dim, x.ndim)
    if x.ndim and x.shape[d] == 0:
        raise DimError(f"aminmax(): Expected reduction dim {d} to have non-zero size.")
    if x.ndim == 0:
        return aminmax_t(Clone()(x), Clone()(x))
    return aminmax_t(amin(x, d, keepdim), amax(x, d, keepdim))


# -- order statistics ----------------------------------------------------------------------------
class _EvenShare(Function):
    """The value m picked from all of x, its gradient shared evenly by the elements equal to m
    (by the NaNs when m is NaN): PyTorch's rule for median() / nanmedian() without a dim."""

    saves = "0"

    def __init__(self, m: Any) -> None:
        self.m = m

    def forward(self, x: Any) -> Any:
        return xp_of(x).asarray(self.m, dtype=x.dtype).copy()

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        a = x.array
        xp = xp_of(a)  # no branch on the value of m: it may live on a device
        hit = (a == self.m) | (xp.isnan(a) & xp.isnan(self.m))
        w = (hit / xp.maximum(hit.sum(), 1)).astype(a.dtype)
        return Scale(w)(gy.expand(tuple(x.shape)) if x.ndim else gy)


def nanmedian(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """median ignoring NaNs: the lower median of the non-NaN elements (NaN if there are none);
    with dim, (values, indices) along it."""
    x = as_operand(input)
    a = x.array
    xp = xp_of(a)
    if dim is None:
        if a.size == 0:
            return Tensor._make(xp.asarray(np.nan, a.dtype), None)
        flat = a.reshape(-1)
        ok = flat[~xp.isnan(flat)] if a.dtype.kind in "fc" else flat
        m = xp.sort(ok)[(ok.size - 1) // 2] if ok.size else xp.asarray(np.nan, a.dtype)
        return _EvenShare(m)(x)
    if x.ndim == 0:
        return _scalar(nanmedian_t, x, dim, "nanmedian")
    d = one_dim("nanmedian", dim, x.ndim)
    if a.shape[d] == 0:
        raise DimError(f"median(): Expected reduction dim {d} to have non-zero size.")
    order = xp.argsort(a, axis=d, kind="stable")  # NaN last; ties in their order
    count = (~xp.isnan(a)).sum(axis=d, keepdims=True) if a.dtype.kind in "fc" else \
        xp.full([1 if k == d else s for k, s in enumerate(a.shape)], a.shape[d])
    k = xp.maximum(count - 1, 0) // 2
    idx = xp.take_along_axis(order, k, axis=d)
    return _picked(nanmedian_t, x, d, idx, keepdim)


def mode(input: Any, dim: int = -1, keepdim: bool = False) -> Any:
    """(values, indices): the most frequent value along dim (the smallest of equally frequent
    ones; each NaN counts on its own) and the index of its last occurrence."""
    x = as_operand(input)
    if x.ndim == 0:
        return _scalar(mode_t, x, dim, "mode")
    d = one_dim("mode", dim, x.ndim)
    a = x.array
    xp = xp_of(a)
    if a.shape[d] == 0:
        raise DimError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    rows = _last(a, d).reshape(-1, a.shape[d])
    n = rows.shape[1]
    order = xp.argsort(rows, axis=1, kind="stable")
    s = xp.take_along_axis(rows, order, axis=1)
    starts = xp.ones(rows.shape, dtype=bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]  # NaN != NaN: each NaN is a run of its own
    ends = xp.ones(rows.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    pos = xp.arange(n)
    first = xp.maximum.accumulate(xp.where(starts, pos, 0), axis=1)
    length = xp.where(ends, pos - first + 1, 0)
    best = xp.argmax(length, axis=1)  # the first (smallest) value among the longest runs
    idx = xp.take_along_axis(order, best[:, None], axis=1)
    lead = tuple(s_ for k, s_ in enumerate(a.shape) if k != d)
    idx = xp.expand_dims(idx.reshape(lead), d)
    return _picked(mode_t, x, d, idx, keepdim)


_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def _q_tensor(op: str, q: Any, x: Tensor) -> Tensor:
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor")
        if q.array.dtype != x.array.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor")
        bad = (q.array < 0) | (q.array > 1) | xp_of(q.array).isnan(q.array)
        if host_any(bad):
            raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
        return q
    if not 0 <= q <= 1:
        raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {q}")
    return Tensor._make(xp_of(x.array).asarray(q, dtype=x.array.dtype), None)


def _quantile(op: str, input: Any, q: Any, dim: Any, keepdim: bool, interpolation: str,
              ignore_nan: bool) -> Tensor:
    x = as_operand(input)
    if interpolation not in _MODES:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if x.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    if x.array.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype")
    qt = _q_tensor(op, q, x)
    if dim is None:
        r = x.reshape(-1)
        out_shape = (1,) * x.ndim if keepdim else ()
    else:
        d = one_dim(op, dim, x.ndim)
        r = x.movedim(d, -1) if x.ndim else x.reshape(1)
        out_shape = tuple(1 if k == d and keepdim else s for k, s in enumerate(x.shape)
                          if k != d or keepdim)
    n = r.shape[-1]
    values = r.sort(-1).values  # NaN last
    nan = xp_of(r.array).isnan(r.array)
    q64 = qt.reshape(-1).to(np.float64)
    if ignore_nan:
        count = (~nan).sum(-1, keepdims=True).astype(np.float64)
        ranks = q64 * (count - 1)
        ranks = where(ranks.array < 0, 0.0, ranks)
    else:
        ranks = where(nan.any(-1, keepdims=True), float(n - 1), q64 * float(n - 1))
    if interpolation in ("lower", "higher", "nearest"):
        ranks = {"lower": ranks.floor, "higher": ranks.ceil, "nearest": ranks.round}[
            interpolation]()
    below = ranks.array.astype(np.int64)
    res = values.gather(-1, below)
    if interpolation in ("linear", "midpoint"):
        above = values.gather(-1, xp_of(below).ceil(ranks.array).astype(np.int64))
        if interpolation == "midpoint":
            w = Tensor._make(xp_of(below).full(below.shape, 0.5, x.array.dtype), None)
        else:
            w = (ranks - below.astype(np.float64)).to(x.dtype)
        res = res + w * (above - res)
    if qt.ndim == 0:
        return res.reshape(out_shape)
    return res.movedim(-1, 0).reshape((qt.numel(),) + out_shape)


def quantile(input: Any, q: Any, dim: Any = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The q-th quantiles (q a number or a 1-D tensor in [0, 1]) along dim (of all elements
    by default), interpolated between the order statistics as interpolation says; a NaN in a
    row makes its quantiles NaN. With a 1-D q, the quantiles lead the result's dims."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input: Any, q: Any, dim: Any = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """quantile ignoring NaNs (NaN where a row has nothing else)."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, True)
