"""Pooling layers: MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d,
AdaptiveMaxPool1d/2d, and F.max_pool1d, F.avg_pool1d, F.adaptive_avg_pool1d,
F.adaptive_max_pool1d/2d (PyTorch's arguments and defaults).

The work is done by chainrule.ops.pool: 1-D pooling runs the 2-D ops over a height of 1, and
adaptive max pooling is a gather at argmax positions found on the host. Inputs are batched or
unbatched (without N).
"""

from __future__ import annotations

from typing import Any

from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.nn.module import Module
from chainrule.operands import as_operand
from chainrule.ops.conv import Window
from chainrule.ops.pool import MaxPoolNd as MaxPoolOp
from chainrule.ops.pool import (
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    avg_pool2d,
    avg_pool3d,
    max_pool2d,
    max_pool3d,
    pool_window,
)
from chainrule.tensor import Tensor


class _Pool2d(Module):
    """The input check of the 2-D and 3-D pooling layers: it names the layer."""

    _dims = "H, W"

    def _check(self, x: Any) -> None:
        shape = tuple(getattr(x, "shape", ()))
        n = self._dims.count(",") + 1
        if len(shape) not in (n + 1, n + 2):
            raise ShapeError(f"{type(self).__name__}({self.extra_repr()}): expected input of "
                             f"shape (N, C, {self._dims}) or (C, {self._dims}), got {shape}")


class MaxPool2d(_Pool2d):
    """Max over kernel_size windows: (N, C, H, W) -> (N, C, OH, OW) with
    OH = (H + 2 padding - dilation (kernel_size - 1) - 1) // stride + 1 (rounded up in
    ceil_mode); stride defaults to kernel_size. The gradient goes to each window's maximum
    (the first one on ties)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        if return_indices:
            raise NotImplementedError("MaxPool2d: return_indices=True (for MaxUnpool2d) is not "
                                      "supported yet; leave it False")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(_Pool2d):
    """Mean over kernel_size windows: (N, C, H, W) -> (N, C, OH, OW), sizes as MaxPool2d's.
    Zero padding counts in the divisor unless count_include_pad=False; divisor_override
    replaces the divisor."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(_Pool2d):
    """Mean over windows chosen so the output is output_size: (N, C, H, W) -> (N, C, OH, OW);
    window i spans [floor(i H / OH), ceil((i + 1) H / OH)), as in PyTorch (overlapping when
    H is not a multiple of OH). None in output_size keeps that input size."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"



# -- 3-D pooling: the same ops over (N, C, D, H, W) ---------------------------------------------
class MaxPool3d(MaxPool2d):
    """Max over kernel_size windows: (N, C, D, H, W) -> (N, C, OD, OH, OW), each size as
    MaxPool2d's; stride defaults to kernel_size. The gradient goes to each window's maximum
    (the first one on ties)."""

    _dims = "D, H, W"

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode)


class AvgPool3d(AvgPool2d):
    """Mean over kernel_size windows: (N, C, D, H, W) -> (N, C, OD, OH, OW), sizes as
    MaxPool3d's. Zero padding counts in the divisor unless count_include_pad=False;
    divisor_override replaces the divisor."""

    _dims = "D, H, W"

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    """Mean over windows chosen so the output is output_size: (N, C, D, H, W) ->
    (N, C, OD, OH, OW), per axis as AdaptiveAvgPool2d's. None in output_size keeps that input
    size."""

    _dims = "D, H, W"

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return adaptive_avg_pool3d(input, self.output_size)

# -- 1-D pooling: the 2-D ops over a height of 1 -------------------------------------------------
def _single(value: Any, name: str, who: str) -> int:
    v = value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"{who}: {name} must be an int or a tuple of one int, got {value!r}")
    return v


def _rows(input: Any, who: str) -> Tensor:
    """input (N, C, L) or (C, L) as (N, C, 1, L) or (C, 1, L), checked."""
    x = as_operand(input)
    if x.ndim not in (2, 3):
        raise ShapeError(f"{who}: expected a 2D (C, L) or 3D (N, C, L) input, got shape "
                         f"{tuple(x.shape)}")
    return x.unsqueeze(-2)


def _window_1d(who: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any,
               dilation: Any, ceil_mode: bool) -> tuple[Window, tuple[int, int]]:
    k = _single(kernel_size, "kernel_size", who)
    s = k if stride is None or stride in ((), []) else _single(stride, "stride", who)
    p, d = _single(padding, "padding", who), _single(dilation, "dilation", who)
    if k < 1 or s < 1 or d < 1 or p < 0:
        raise ValueError(f"{who}: kernel_size, stride and dilation must be >= 1 and padding "
                         f">= 0, got kernel_size={k}, stride={s}, padding={p}, dilation={d}")
    if p > k // 2:
        raise ShapeError(f"{who}: padding should be at most half of kernel size, but got "
                         f"padding={p} and kernel_size={k}")
    L = x.shape[-1]
    span = d * (k - 1) + 1
    if (L + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1 < 1:
        raise ShapeError(f"{who}: input of length {L} (padding {p}) is smaller than the "
                         f"pooling window (kernel_size {k}, dilation {d})")
    shape = (x.shape[0] if x.ndim == 4 else 1, x.shape[-3], 1, L)
    return pool_window(who, shape, (1, k), (1, s), (0, p), (1, d), ceil_mode)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Tensor:
    """Max over kernel_size windows of input (N, C, L) or (C, L) -> (N, C, OL) with
    OL = (L + 2 padding - dilation (kernel_size - 1) - 1) // stride + 1 (rounded up in
    ceil_mode); the gradient goes to each window's first maximum."""
    if return_indices:
        raise NotImplementedError("max_pool1d: return_indices=True (for MaxUnpool1d) is not "
                                  "supported yet; leave it False")
    x = _rows(input, "max_pool1d")
    win, out_hw = _window_1d("max_pool1d", x, kernel_size, stride, padding, dilation, ceil_mode)
    x4 = x if x.ndim == 4 else x.unsqueeze(0)
    y = MaxPoolOp(win, out_hw)(x4)
    return (y if x.ndim == 4 else y.squeeze(0)).squeeze(-2)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over kernel_size windows of input (N, C, L) or (C, L) -> (N, C, OL), sizes as
    max_pool1d's; zero padding counts in the divisor unless count_include_pad=False."""
    x = _rows(input, "avg_pool1d")
    _window_1d("avg_pool1d", x, kernel_size, stride, padding, 1, ceil_mode)
    k = _single(kernel_size, "kernel_size", "avg_pool1d")
    s = k if stride is None or stride in ((), []) else _single(stride, "stride", "avg_pool1d")
    y = avg_pool2d(x, (1, k), (1, s), (0, _single(padding, "padding", "avg_pool1d")),
                   ceil_mode, count_include_pad)
    return y.squeeze(-2)


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over PyTorch's adaptive windows of input (N, C, L) or (C, L) -> (N, C, output_size)."""
    x = _rows(input, "adaptive_avg_pool1d")
    return adaptive_avg_pool2d(x, (1, _single(output_size, "output_size",
                                              "adaptive_avg_pool1d"))).squeeze(-2)


def _adaptive_size(output_size: Any, h: int, w: int, who: str) -> tuple[int, int]:
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(size) != 2:
        raise ValueError(f"{who}: output_size must be an int or a pair, got {output_size!r}")
    oh, ow = (h if size[0] is None else size[0]), (w if size[1] is None else size[1])
    if min(oh, ow) < 0:
        raise ValueError(f"{who}: output_size must be non-negative, got {output_size!r}")
    return int(oh), int(ow)


def _bounds(n_in: int, n_out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive windows [floor(i n_in / n_out), ceil((i + 1) n_in / n_out))."""
    return [((i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)) for i in range(n_out)]


def adaptive_max_pool2d(input: Tensor, output_size: Any,
                        return_indices: bool = False) -> Any:
    """Max over PyTorch's adaptive windows of input (N, C, H, W) or (C, H, W) -> (N, C, OH, OW)
    (None in output_size keeps that input size). With return_indices, also the int64 indices
    of the maxima, flat over H * W. The gradient goes to each window's first maximum (in
    row-major order), as in PyTorch."""
    x = as_operand(input)
    if x.ndim not in (3, 4):
        raise ShapeError(f"adaptive_max_pool2d: expected a 3D (C, H, W) or 4D (N, C, H, W) "
                         f"input, got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    oh, ow = _adaptive_size(output_size, h, w, "adaptive_max_pool2d")
    if h * w == 0 and oh * ow:
        raise ShapeError(f"adaptive_max_pool2d: input {tuple(x.shape)} has no element to pool")
    a = x.array.reshape((-1,) + x.shape[-3:])
    xp = xp_of(a)
    idx = xp.zeros(a.shape[:2] + (oh, ow), dtype=xp.int64)
    for i, (hs, he) in enumerate(_bounds(h, oh)):
        for j, (ws, we) in enumerate(_bounds(w, ow)):
            win = a[:, :, hs:he, ws:we].reshape(a.shape[:2] + ((he - hs) * (we - ws),))
            k = win.argmax(axis=2)  # the first maximum; NaN counts as the maximum
            idx[:, :, i, j] = (hs + k // (we - ws)) * w + ws + k % (we - ws)
    flat = x.reshape(x.shape[:-2] + (h * w,))
    lead = x.shape[:-2]
    y = flat.gather(-1, Tensor._make(idx.reshape(lead + (oh * ow,)), None))
    y = y.reshape(lead + (oh, ow))
    return (y, Tensor._make(idx.reshape(lead + (oh, ow)), None)) if return_indices else y


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over PyTorch's adaptive windows of input (N, C, L) or (C, L) -> (N, C, output_size);
    with return_indices, also the int64 positions of the maxima."""
    x = _rows(input, "adaptive_max_pool1d")
    size = (1, _single(output_size, "output_size", "adaptive_max_pool1d"))
    out = adaptive_max_pool2d(x, size, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


class MaxPool1d(Module):
    """Max over kernel_size windows: (N, C, L) -> (N, C, OL); see F.max_pool1d."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        if return_indices:
            raise NotImplementedError("MaxPool1d: return_indices=True (for MaxUnpool1d) is not "
                                      "supported yet; leave it False")
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor) -> Tensor:
        return max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
    """Mean over kernel_size windows: (N, C, L) -> (N, C, OL); see F.avg_pool1d."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = (_single(kernel_size, "kernel_size", "AvgPool1d"),)
        self.stride = (self.kernel_size if stride is None else
                       (_single(stride, "stride", "AvgPool1d"),))
        self.padding = (_single(padding, "padding", "AvgPool1d"),)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _Adaptive(Module):
    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveMax(_Adaptive):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveAvgPool1d(_Adaptive):
    """Mean over adaptive windows: (N, C, L) -> (N, C, output_size)."""

    def forward(self, input: Tensor) -> Tensor:
        return adaptive_avg_pool1d(input, self.output_size)


class AdaptiveMaxPool1d(_AdaptiveMax):
    """Max over adaptive windows: (N, C, L) -> (N, C, output_size) (and the indices of the
    maxima with return_indices=True)."""

    def forward(self, input: Tensor) -> Any:
        return adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMax):
    """Max over adaptive windows: (N, C, H, W) -> (N, C, OH, OW); window i spans
    [floor(i H / OH), ceil((i + 1) H / OH)). None in output_size keeps that input size."""

    def forward(self, input: Tensor) -> Any:
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)
