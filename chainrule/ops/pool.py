"""Pooling over any number of spatial dims: max_pool2d / 3d (a fused op whose gradient goes to
each window's argmax), avg_pool2d / 3d (Im2Col and a sum) and adaptive_avg_pool2d / 3d (one
constant averaging matrix per spatial axis).

Max pooling's backward scatters into the argmax positions and the scatter's backward gathers from
them: ArgmaxScatter and ArgmaxGather are each other's adjoint with constant masks, so max
pooling is differentiable to every order. Like conv, the work runs in (C, N, *S) order and
hands back (N, C, *S) views, one vectorised pass per kernel tap (never a loop over pixels).
"""

from __future__ import annotations

import functools
import math
from typing import Any

from chainrule.autograd import Function
from chainrule.backend import may_any, xp_of
from chainrule.errors import ShapeError
from chainrule.operands import as_operands
from chainrule.ops.conv import (
    SPATIAL,
    Im2Col,
    Window,
    channels_first,
    check_work_buffer,
    im2col_array,
    ntuple,
    padded,
    tap_index,
    unpadded,
)
from chainrule.ops.parallel import split
from chainrule.tensor import Tensor


def _reads(win: Window, out: tuple[int, ...]) -> list[tuple]:
    """For each kernel tap, the index of the (C, N, *O) view of a padded (C, N, *S_padded)
    array that it reads."""
    return [reads for _, reads in tap_index(win, tuple(out))]


def _disjoint(win: Window) -> bool:
    """Whether no input cell is read by two windows (then a scatter needs no accumulation)."""
    return all(win.stride[a] >= win.span(a) for a in range(len(win.kernel)))


def _tiles(win: Window, full: tuple[int, ...], out: tuple[int, ...]) -> bool:
    """Whether the windows tile the padded input exactly (kernel == stride, no dilation, no
    cell left over): then a scatter writes every cell and needs no zero-filled buffer."""
    return all(win.dilation[a] == 1 and win.stride[a] == win.kernel[a]
               and full[a] == out[a] * win.stride[a] for a in range(len(win.kernel)))


def _index_dtype(win: Window) -> str:
    n = math.prod(win.kernel)
    return "uint8" if n <= 255 else "int16" if n <= 32767 else "int32"


def _max_taps(taps: list[Any], best: Any, idx: Any, xp: Any) -> None:
    """best = the elementwise max of the taps, idx = the index of the first tap holding it
    (PyTorch's rule: a later tap takes over where it is strictly greater, or NaN)."""
    if len(taps) == 1:
        xp.copyto(best, taps[0])
        idx[...] = 0
        return
    upd = xp.greater(taps[1], taps[0])
    xp.maximum(taps[0], taps[1], out=best)
    xp.copyto(idx, upd)
    step = xp.empty_like(idx)
    for t, v in enumerate(taps[2:], 2):
        xp.greater(v, best, out=upd)
        xp.maximum(best, v, out=best)
        # idx = t where upd: t exceeds every index so far, so a max of integers does it (a
        # masked copyto is ten times slower)
        xp.multiply(upd, idx.dtype.type(t), out=step)
        xp.maximum(idx, step, out=idx)
    if best.dtype.kind in "fc" and may_any(xp.isnan(best)):
        # the gradient goes to the last NaN, as in PyTorch (on a device, always: no sync)
        run = taps[0].copy()
        idx[...] = 0
        for t, v in enumerate(taps[1:], 1):
            upd = (v > run) | xp.isnan(v)
            xp.copyto(run, v, where=upd)
            xp.copyto(idx, t, where=upd)


class MaxPoolNd(Function):
    """Max over each window of x (N, C, *S) -> (N, C, *O); fused for speed (one pass per kernel
    tap). The gradient goes to the first maximum of each window, as in PyTorch.

    The work runs in (C, N, *S) order, the output is a contiguous (N, C, *O) array as PyTorch's
    (so `y.view(N, -1)` works). Backward keeps only the index of each window's argmax tap (one
    byte per output), never the output itself, so an in-place change of the output
    (ReLU(inplace=True)) is harmless, as in PyTorch.
    """

    saves = ""

    def __init__(self, win: Window, out: tuple[int, ...]) -> None:
        self.win, self.out = win, tuple(out)

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        src = padded(x, self.win, -xp.inf)
        reads = _reads(self.win, self.out)
        c, n = src.shape[:2]
        best = xp.empty((c, n) + self.out, dtype=x.dtype)
        idx = xp.empty(best.shape, dtype=_index_dtype(self.win))

        def pool(lo: int, hi: int) -> None:
            part = src[:, lo:hi]
            _max_taps([part[r] for r in reads], best[:, lo:hi], idx[:, lo:hi], xp)

        split(pool, n, best.size * len(reads), xp)  # over the batch: both cores where set
        self.idx = idx  # (C, N, *O): which tap holds each window's maximum
        # a contiguous (N, C, *O) output, as PyTorch's (x.view(N, -1) works); written through a
        # transposed view of it the maxima above run several times slower
        return best.transpose(channels_first(len(self.out))).copy(order="C")

    def backward(self, gy: Tensor) -> Tensor:
        return ArgmaxScatter(self.win, self.idx, self.inputs[0].shape)(gy)


class ArgmaxScatter(Function):
    """g (N, C, *O) -> zeros (N, C, *S) with each g added at its window's argmax, given as the
    (C, N, *O) index of the argmax tap of each window."""

    saves = ""

    def __init__(self, win: Window, idx: Any, shape: tuple[int, ...]) -> None:
        self.win, self.idx, self.shape = win, idx, tuple(shape)

    def forward(self, g: Any) -> Any:
        xp = xp_of(g)
        n, c, *sizes = self.shape
        cf = channels_first(len(sizes))
        full = tuple(s + a + b for s, (a, b) in zip(sizes, self.win.padding))
        out = self.idx.shape[2:]
        tiles = _tiles(self.win, full, out)
        buf = (xp.empty if tiles else xp.zeros)((c, n) + full, dtype=g.dtype)
        gt = xp.ascontiguousarray(g.transpose(cf))  # (C, N, *O), read once per tap
        disjoint = _disjoint(self.win)
        reads = _reads(self.win, out)

        def scatter(lo: int, hi: int) -> None:
            part, ids, gp = buf[:, lo:hi], self.idx[:, lo:hi], gt[:, lo:hi]
            m = xp.empty(ids.shape, dtype=bool)
            for t, r in enumerate(reads):
                xp.equal(ids, t, out=m)
                if disjoint:
                    xp.multiply(gp, m, out=part[r])
                else:
                    part[r] += gp * m

        split(scatter, n, buf.size, xp)  # over the batch: both cores where set
        return buf[unpadded(self.win, sizes)].transpose(cf)

    def backward(self, gy: Tensor) -> Tensor:
        return ArgmaxGather(self.win, self.idx)(gy)


class ArgmaxGather(Function):
    """x (N, C, *S) -> (N, C, *O): the element at each window's argmax (the adjoint of
    ArgmaxScatter)."""

    saves = ""

    def __init__(self, win: Window, idx: Any) -> None:
        self.win, self.idx = win, idx

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        src = padded(x, self.win, 0.0)
        out = self.idx.shape[2:]
        y = xp.zeros(self.idx.shape, dtype=x.dtype)
        for t, r in enumerate(_reads(self.win, out)):
            xp.copyto(y, src[r], where=self.idx == t)
        return y.transpose(channels_first(len(out)))

    def backward(self, gy: Tensor) -> Tensor:
        return ArgmaxScatter(self.win, self.idx, self.inputs[0].shape)(gy)


# -- geometry and checks -------------------------------------------------------------------------
def _batched(x: Tensor, who: str, nd: int) -> Tensor:
    """x (N, C, *S) as it is, or an unbatched (C, *S) as a batch of one."""
    if x.ndim not in (nd + 1, nd + 2):
        dims = ", ".join(SPATIAL[nd])
        raise ShapeError(f"{who}: expected input of shape (N, C, {dims}) or (C, {dims}), got "
                         f"{tuple(x.shape)}")
    return x if x.ndim == nd + 2 else x.reshape((1,) + x.shape)


def pool_window(who: str, shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
                dilation: Any, ceil_mode: bool) -> tuple[Window, tuple[int, ...]]:
    """The pooling window over an (N, C, *S) input and the output's spatial size, with
    PyTorch's rules: stride defaults to the kernel, padding at most half the kernel, and in
    ceil_mode a last partial window only if it starts inside the input or the left padding."""
    nd = len(shape) - 2
    k = ntuple(kernel_size, nd, "kernel_size", who)
    s = k if stride is None or stride == () or stride == [] else ntuple(stride, nd, "stride", who)
    p, d = ntuple(padding, nd, "padding", who), ntuple(dilation, nd, "dilation", who)
    if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise ValueError(f"{who}: kernel_size, stride, dilation must be >= 1 and padding >= 0")
    if any(pa > ka // 2 for pa, ka in zip(p, k)):  # PyTorch raises a RuntimeError here
        raise ShapeError(f"{who}: padding {p} must be at most half the kernel size {k}")
    out, extra = [], []
    for a in range(nd):
        n, span = shape[2 + a], d[a] * (k[a] - 1) + 1
        o = (n + 2 * p[a] - span + (s[a] - 1 if ceil_mode else 0)) // s[a] + 1
        if ceil_mode and (o - 1) * s[a] >= n + p[a]:
            o -= 1
        if o < 1:
            raise ShapeError(f"{who}: input of spatial size {tuple(shape[2:])} is smaller than "
                             f"the pooling window {k} (padding {p}, dilation {d})")
        out.append(o)
        extra.append(max(0, (o - 1) * s[a] + span - n - 2 * p[a]))
    pads = tuple((p[a], p[a] + extra[a]) for a in range(nd))
    return Window(k, s, pads, d), tuple(out)


# -- max pooling ---------------------------------------------------------------------------------
def _max_pool(who: str, nd: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: bool, return_indices: bool) -> Tensor:
    if return_indices:
        raise NotImplementedError(f"{who}: return_indices=True (for MaxUnpool{nd}d) is not "
                                  "supported yet; leave it False")
    x = as_operands((input,))[0]
    xb = _batched(x, who, nd)
    win, out = pool_window(who, xb.shape, kernel_size, stride, padding, dilation, ceil_mode)
    y = MaxPoolNd(win, out)(xb)
    return y if x.ndim == nd + 2 else y.reshape(y.shape[1:])


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """Max over kernel_size windows of input (N, C, H, W) or (C, H, W) -> (N, C, OH, OW)."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """Max over kernel_size windows of input (N, C, D, H, W) or (C, D, H, W) ->
    (N, C, OD, OH, OW)."""
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


# -- average pooling -----------------------------------------------------------------------------
def _avg_pool(who: str, nd: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: bool, count_include_pad: bool, divisor_override: int | None) -> Tensor:
    x = as_operands((input,))[0]
    xb = _batched(x, who, nd)
    win, out = pool_window(who, xb.shape, kernel_size, stride, padding, 1, ceil_mode)
    check_work_buffer(who, xb, xb.shape[1] * math.prod(win.kernel),
                      xb.shape[0] * math.prod(out), f"with kernel_size {win.kernel}")
    s = Im2Col(win, out)(xb).sum(axis=tuple(range(1, nd + 1)))  # (C, N, *O)
    if divisor_override:
        y = s * (1.0 / divisor_override)
    else:
        inv = _inverse_divisors(xp_of(xb.array), win, tuple(xb.shape[2:]), out,
                                count_include_pad, xb.array.dtype)
        y = s * Tensor._make(inv, None)
    y = y.permute(channels_first(nd))
    return y if x.ndim == nd + 2 else y.reshape(y.shape[1:])


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over kernel_size windows of input (N, C, H, W) or (C, H, W) -> (N, C, OH, OW);
    zero padding counts in the divisor unless count_include_pad=False."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over kernel_size windows of input (N, C, D, H, W) or (C, D, H, W) ->
    (N, C, OD, OH, OW); zero padding counts in the divisor unless count_include_pad=False."""
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


@functools.lru_cache(maxsize=128)
def _inverse_divisors(xp: Any, win: Window, sizes: tuple[int, ...], out: tuple[int, ...],
                      include_pad: bool, dtype: Any) -> Any:
    """1 / the per-output divisor (*O): the window's cells inside the input (with its symmetric
    padding when include_pad; never the extra cells ceil_mode adds), as PyTorch counts them.
    Cached (read-only): a model pools the same shapes at every step."""
    nd = len(win.kernel)
    canvas = xp.zeros((1, 1) + tuple(n + a + b for n, (a, b) in zip(sizes, win.padding)))
    if include_pad:
        canvas[(slice(None), slice(None)) + tuple(slice(0, n + 2 * a) for n, (a, _) in
                                                  zip(sizes, win.padding))] = 1
    else:
        canvas[unpadded(win, sizes)] = 1
    flat = Window(win.kernel, win.stride, ((0, 0),) * nd, win.dilation)
    div = im2col_array(canvas, flat, out).sum(axis=tuple(range(1, nd + 1)))[0, 0]
    inv = (1 / div).astype(dtype)
    if xp.__name__ == "numpy":  # shared between calls: nobody may write into it
        inv.flags.writeable = False
    return inv


# -- adaptive average pooling --------------------------------------------------------------------
def _adaptive_avg_pool(who: str, nd: int, input: Tensor, output_size: Any) -> Tensor:
    x = as_operands((input,))[0]
    xb = _batched(x, who, nd)
    sizes = tuple(xb.shape[2:])
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * nd
    out = tuple(n if o is None else o for n, o in zip(sizes, size))
    if len(size) != nd or min(out) < 1:
        raise ValueError(f"{who}: output_size must be a positive int or a tuple of {nd}, got "
                         f"{output_size!r}")
    xp = xp_of(xb.array)
    mats = [_averaging(xp, n, o, xb.dtype) for n, o in zip(sizes, out)]
    lead = xb.shape[0] * xb.shape[1]
    y = xb.reshape(-1, sizes[-1]) @ mats[-1].T  # the last axis: one (M, W) @ (W, OW) matmul
    for a in reversed(range(nd - 1)):  # the others: (O_a, S_a) @ (pre, S_a, post), batched
        pre, post = lead * math.prod(sizes[:a]), math.prod(out[a + 1:])
        y = mats[a] @ y.reshape(pre, sizes[a], post)
    y = y.reshape(xb.shape[:2] + out)
    return y if x.ndim == nd + 2 else y.reshape(y.shape[1:])


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over PyTorch's adaptive windows [floor(i H / OH), ceil((i + 1) H / OH)) of input
    (N, C, H, W) or (C, H, W) -> (N, C, OH, OW); None in output_size keeps that input size."""
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over PyTorch's adaptive windows of input (N, C, D, H, W) or (C, D, H, W) ->
    (N, C, OD, OH, OW), per axis as adaptive_avg_pool2d's; None keeps that input size."""
    return _adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


def _averaging(xp: Any, n_in: int, n_out: int, dtype: Any) -> Tensor:
    """The constant (n_out, n_in) matrix whose row i averages input cells start_i..end_i-1."""
    m = xp.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        m[i, start:end] = 1.0 / (end - start)
    return Tensor._make(m, None)
