"""Pooling: max_pool2d (a fused op whose gradient goes to each window's argmax), avg_pool2d
(Im2Col and a sum) and adaptive_avg_pool2d (two constant averaging matrices).

Max pooling's backward scatters into the argmax positions and the scatter's backward gathers from
them: ArgmaxScatter and ArgmaxGather are each other's adjoint with constant masks, so max
pooling is differentiable to every order. Like conv, the work runs in (C, N, H, W) order and
hands back NCHW views, one vectorised pass per kernel tap (never a loop over pixels).
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.operands import as_operands
from chainrule.ops.conv import Im2Col, Window, im2col_array, padded, pair
from chainrule.tensor import Tensor


def _taps(win: Window) -> list[tuple[int, int, int]]:
    kh, kw = win.kernel
    return [(i * kw + j, i, j) for i in range(kh) for j in range(kw)]


def _tap(a: Any, win: Window, i: int, j: int, out_hw: tuple[int, ...]) -> Any:
    """The (C, N, OH, OW) view of a padded (C, N, Hp, Wp) array that kernel tap (i, j) reads."""
    return a[(slice(None), slice(None)) + win.slices(i, j, out_hw[0], out_hw[1])]


def _disjoint(win: Window) -> bool:
    """Whether no input cell is read by two windows (then a scatter needs no accumulation)."""
    return all(win.stride[a] >= win.span(a) for a in range(2))


class MaxPool2d(Function):
    """Max over each window of x (N, C, H, W) -> (N, C, OH, OW); fused for speed (one maximum
    per kernel tap). The gradient goes to the first maximum of each window, as in PyTorch."""

    saves = "0"

    def __init__(self, win: Window, out_hw: tuple[int, int]) -> None:
        self.win, self.out_hw = win, out_hw

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        src = padded(x, self.win, -xp.inf)
        taps = [_tap(src, self.win, i, j, self.out_hw) for _, i, j in _taps(self.win)]
        best = taps[0].copy() if len(taps) == 1 else xp.maximum(taps[0], taps[1])
        for v in taps[2:]:
            xp.maximum(best, v, out=best)
        self.best = best  # (C, N, OH, OW), for backward; the output is a copy, so an in-place
        return xp.ascontiguousarray(best.transpose(1, 0, 2, 3))  # change of it is harmless

    def backward(self, gy: Tensor) -> Tensor:
        src = padded(self.inputs[0].array, self.win, -xp_of(self.best).inf)
        masks, taken = [], None
        for _, i, j in _taps(self.win):  # first maximum of each window: ties go to the first tap
            m = _tap(src, self.win, i, j, self.out_hw) == self.best
            if taken is None:
                taken = m.copy()
            else:
                m &= ~taken
                taken |= m
            masks.append(m)
        return ArgmaxScatter(self.win, masks, self.inputs[0].shape)(gy)


class ArgmaxScatter(Function):
    """g (N, C, OH, OW) -> zeros (N, C, H, W) with each g added at its window's argmax, given
    as one boolean (C, N, OH, OW) mask per kernel tap."""

    saves = ""

    def __init__(self, win: Window, masks: list[Any], shape: tuple[int, ...]) -> None:
        self.win, self.masks, self.shape = win, masks, tuple(shape)

    def forward(self, g: Any) -> Any:
        xp = xp_of(g)
        n, c, h, w = self.shape
        (pt, pb), (pl, pr) = self.win.padding
        buf = xp.zeros((c, n, h + pt + pb, w + pl + pr), dtype=g.dtype)
        gt = xp.ascontiguousarray(g.transpose(1, 0, 2, 3))
        oh, ow = gt.shape[2:]
        for (_, i, j), m in zip(_taps(self.win), self.masks):
            part = _tap(buf, self.win, i, j, (oh, ow))
            if _disjoint(self.win):
                xp.multiply(gt, m, out=part)
            else:
                part += gt * m
        return buf[:, :, pt:pt + h, pl:pl + w].transpose(1, 0, 2, 3)

    def backward(self, gy: Tensor) -> Tensor:
        return ArgmaxGather(self.win, self.masks)(gy)


class ArgmaxGather(Function):
    """x (N, C, H, W) -> (N, C, OH, OW): the element at each window's argmax (the adjoint of
    ArgmaxScatter)."""

    saves = ""

    def __init__(self, win: Window, masks: list[Any]) -> None:
        self.win, self.masks = win, masks

    def forward(self, x: Any) -> Any:
        src = padded(x, self.win, 0.0)
        out_hw = self.masks[0].shape[2:]
        out = xp_of(x).zeros(self.masks[0].shape, dtype=x.dtype)
        for (_, i, j), m in zip(_taps(self.win), self.masks):
            out += _tap(src, self.win, i, j, out_hw) * m
        return out.transpose(1, 0, 2, 3)

    def backward(self, gy: Tensor) -> Tensor:
        return ArgmaxScatter(self.win, self.masks, self.inputs[0].shape)(gy)


# -- geometry and checks -------------------------------------------------------------------------
def _batched(x: Tensor, who: str) -> Tensor:
    if x.ndim not in (3, 4):
        raise ShapeError(f"{who}: expected input of shape (N, C, H, W) or (C, H, W), got "
                         f"{tuple(x.shape)}")
    return x if x.ndim == 4 else x.reshape((1,) + x.shape)


def pool_window(who: str, shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any,
                dilation: Any, ceil_mode: bool) -> tuple[Window, tuple[int, int]]:
    """The pooling window over an (N, C, H, W) input and the output size (OH, OW), with
    PyTorch's rules: stride defaults to the kernel, padding at most half the kernel, and in
    ceil_mode a last partial window only if it starts inside the input or the left padding."""
    k = pair(kernel_size, "kernel_size", who)
    s = k if stride is None or stride == () or stride == [] else pair(stride, "stride", who)
    p, d = pair(padding, "padding", who), pair(dilation, "dilation", who)
    if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise ValueError(f"{who}: kernel_size, stride, dilation must be >= 1 and padding >= 0")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{who}: padding {p} must be at most half the kernel size {k}")
    out, extra = [], []
    for a in range(2):
        n, span = shape[2 + a], d[a] * (k[a] - 1) + 1
        o = (n + 2 * p[a] - span + (s[a] - 1 if ceil_mode else 0)) // s[a] + 1
        if ceil_mode and (o - 1) * s[a] >= n + p[a]:
            o -= 1
        if o < 1:
            raise ShapeError(f"{who}: input of spatial size {tuple(shape[2:])} is smaller than "
                             f"the pooling window {k} (padding {p}, dilation {d})")
        out.append(o)
        extra.append(max(0, (o - 1) * s[a] + span - n - 2 * p[a]))
    pads = ((p[0], p[0] + extra[0]), (p[1], p[1] + extra[1]))
    return Window(k, s, pads, d), (out[0], out[1])


# -- the public functions ------------------------------------------------------------------------
def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """Max over kernel_size windows of input (N, C, H, W) or (C, H, W) -> (N, C, OH, OW)."""
    if return_indices:
        raise NotImplementedError("max_pool2d: return_indices=True (for MaxUnpool2d) is not "
                                  "supported yet; leave it False")
    x = as_operands((input,))[0]
    x4 = _batched(x, "max_pool2d")
    win, out_hw = pool_window("max_pool2d", x4.shape, kernel_size, stride, padding, dilation,
                              ceil_mode)
    y = MaxPool2d(win, out_hw)(x4)
    return y if x.ndim == 4 else y.reshape(y.shape[1:])


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over kernel_size windows of input (N, C, H, W) or (C, H, W) -> (N, C, OH, OW);
    zero padding counts in the divisor unless count_include_pad=False."""
    x = as_operands((input,))[0]
    x4 = _batched(x, "avg_pool2d")
    win, out_hw = pool_window("avg_pool2d", x4.shape, kernel_size, stride, padding, 1, ceil_mode)
    s = Im2Col(win, out_hw)(x4).sum(axis=(1, 2))  # (C, N, OH, OW)
    if divisor_override:
        y = s * (1.0 / divisor_override)
    else:
        div = _divisors(xp_of(x4.array), win, x4.shape, out_hw, count_include_pad)
        y = s * Tensor._make((1 / div).astype(x4.dtype), None)
    y = y.permute(1, 0, 2, 3)
    return y if x.ndim == 4 else y.reshape(y.shape[1:])


def _divisors(xp: Any, win: Window, shape: tuple[int, ...], out_hw: tuple[int, int],
              include_pad: bool) -> Any:
    """Per-output divisor (OH, OW): the window's cells inside the input (with its symmetric
    padding when include_pad; never the extra cells ceil_mode adds), as PyTorch counts them."""
    (pt, pb), (pl, pr) = win.padding
    h, w = shape[2:]
    canvas = xp.zeros((1, 1, h + pt + pb, w + pl + pr))
    if include_pad:
        canvas[:, :, :h + 2 * pt, :w + 2 * pl] = 1
    else:
        canvas[:, :, pt:pt + h, pl:pl + w] = 1
    flat = Window(win.kernel, win.stride, ((0, 0), (0, 0)), win.dilation)
    return im2col_array(canvas, flat, out_hw).sum(axis=(1, 2))[0, 0]


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over PyTorch's adaptive windows [floor(i H / OH), ceil((i + 1) H / OH)) of input
    (N, C, H, W) or (C, H, W) -> (N, C, OH, OW); None in output_size keeps that input size."""
    x = as_operands((input,))[0]
    x4 = _batched(x, "adaptive_avg_pool2d")
    n, c, h, w = x4.shape
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    oh, ow = (h if size[0] is None else size[0]), (w if size[1] is None else size[1])
    if len(size) != 2 or min(oh, ow) < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be a positive int or a pair, "
                         f"got {output_size!r}")
    xp = xp_of(x4.array)
    ph, pw = _averaging(xp, h, oh, x4.dtype), _averaging(xp, w, ow, x4.dtype)
    t = (x4.reshape(n * c * h, w) @ pw.T).reshape(n * c, h, ow)
    y = (ph @ t).reshape(n, c, oh, ow)
    return y if x.ndim == 4 else y.reshape(y.shape[1:])


def _averaging(xp: Any, n_in: int, n_out: int, dtype: Any) -> Tensor:
    """The constant (n_out, n_in) matrix whose row i averages input cells start_i..end_i-1."""
    m = xp.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        m[i, start:end] = 1.0 / (end - start)
    return Tensor._make(m, None)
