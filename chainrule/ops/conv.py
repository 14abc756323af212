"""Convolution as fused ops: Im2Col and Col2Im, each the other's adjoint (and so each the other's
backward), and conv1d / conv2d / conv3d and conv_transpose1d / 2d / 3d built from them with one
matmul each. Everything here works over any number of spatial dims (a Window's len(kernel)).

Layout: inputs are (N, C, *S) as in PyTorch (NCL, NCHW, NCDHW). Columns are (C, *k, N, *O): with
the batch inside the columns, a whole convolution is ONE big (C_out, K) @ (K, N * prod(O)) matmul,
which BLAS runs at full speed, where a batch of N small matmuls does not. Its result comes out as
(C_out, N, *O) and is handed on as a transposed (N, C_out, *O) view; the next Im2Col reads that
layout with unit strides. Because the backward of every piece is another differentiable op, conv
is differentiable to every order (gradgradcheck holds).
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from typing import Any, Iterator, NamedTuple, Sequence

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.operands import as_operands
from chainrule.ops.parallel import split
from chainrule.tensor import Tensor

SPATIAL = {1: "L", 2: "HW", 3: "DHW"}  # the letters PyTorch's docs use for 1, 2, 3 spatial dims


class Window(NamedTuple):
    """Sliding-window geometry over the spatial axes (one entry per axis in each field)."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]  # (before, after) per axis: (top, bottom), (left, right)
    dilation: tuple[int, ...]

    def span(self, axis: int) -> int:
        """Extent of one dilated kernel along a spatial axis (0 is the first, e.g. height)."""
        return self.dilation[axis] * (self.kernel[axis] - 1) + 1

    def out_size(self, *sizes: int) -> tuple[int, ...]:
        """The output's spatial size for an input of spatial size `sizes`; may be <= 0 where
        the kernel does not fit."""
        return tuple((n + sum(self.padding[a]) - self.span(a)) // self.stride[a] + 1
                     for a, n in enumerate(sizes))

    def taps(self) -> Iterator[tuple[int, ...]]:
        """Every kernel tap (i, j, ...), in row-major order."""
        return itertools.product(*(range(k) for k in self.kernel))

    def slices(self, tap: Sequence[int], out: Sequence[int]) -> tuple[slice, ...]:
        """Where kernel tap `tap` reads, over all `out` output positions, in the padded input."""
        return tuple(slice(i * d, i * d + s * (o - 1) + 1, s)
                     for i, d, s, o in zip(tap, self.dilation, self.stride, out))


@functools.lru_cache(maxsize=512)
def tap_index(win: Window, out: tuple[int, ...]) -> tuple[tuple[tuple, tuple], ...]:
    """For each kernel tap: where it sits in the columns (:, *tap) and where it reads, over all
    `out` output positions, in a padded (C, N, *S_padded) array. Cached: one convolution's
    backward and the next step's forward ask again for the same window."""
    every = (slice(None), slice(None))
    return tuple(((slice(None),) + tap, every + win.slices(tap, out)) for tap in win.taps())


def ntuple(value: Any, n: int, name: str, who: str) -> tuple[int, ...]:
    """An int or n ints as an n-tuple (PyTorch's kernel_size=3 or (3, 5))."""
    if type(value) is int:
        return (value,) * n
    v = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(v) != n or not all(isinstance(e, int) and not isinstance(e, bool) for e in v):
        many = {1: "a tuple of one int", 2: "a pair of ints"}.get(n, f"a tuple of {n} ints")
        raise ValueError(f"{who}: {name} must be an int or {many}, got {value!r}")
    return v


def pair(value: Any, name: str, who: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair."""
    return ntuple(value, 2, name, who)  # type: ignore[return-value]


def channels_first(nd: int) -> tuple[int, ...]:
    """The permutation that swaps the first two axes of an (nd + 2)-dim array (its own inverse)."""
    return (1, 0) + tuple(range(2, nd + 2))


def padded(x: Any, win: Window, fill: float) -> Any:
    """x (N, C, *S) as a (C, N, *S_padded) array with the window's padding filled with `fill`;
    a view when there is no padding."""
    xt = x.transpose(channels_first(x.ndim - 2))
    if not any(p for pads in win.padding for p in pads):
        return xt
    shape = xt.shape[:2] + tuple(n + a + b for n, (a, b) in zip(xt.shape[2:], win.padding))
    xp = xp_of(x)
    buf = xp.zeros(shape, dtype=x.dtype) if fill == 0 else xp.full(shape, fill, dtype=x.dtype)
    buf[unpadded(win, xt.shape[2:])] = xt
    return buf


def unpadded(win: Window, sizes: Sequence[int]) -> tuple[slice, ...]:
    """The region that holds the input of a padded (C, N, *S_padded) array."""
    return (slice(None), slice(None)) + tuple(slice(a, a + n)
                                              for n, (a, _) in zip(sizes, win.padding))


def im2col_array(x: Any, win: Window, out: Sequence[int] | None = None,
                 fill: float = 0.0) -> Any:
    """The columns of x (N, C, *S): a new (C, *k, N, *O) array."""
    xp = xp_of(x)
    src = padded(x, win, fill)
    out = tuple(out or win.out_size(*x.shape[2:]))
    sc, sn, *ss = src.strides
    view = xp.lib.stride_tricks.as_strided(  # read-only use: copied at once
        src, (src.shape[0],) + win.kernel + (src.shape[1],) + out,
        (sc,) + tuple(d * s for d, s in zip(win.dilation, ss)) + (sn,)
        + tuple(st * s for st, s in zip(win.stride, ss)))
    cols = xp.empty(view.shape, dtype=view.dtype)
    nd = len(win.kernel)
    lead = (slice(None),) * (nd + 1)  # (C, *k): the batch axis follows

    def copy(lo: int, hi: int) -> None:
        at = lead + (slice(lo, hi),)
        xp.copyto(cols[at], view[at])

    split(copy, src.shape[1], cols.size, xp)  # over the batch: both cores where set
    return cols


def col2im_array(cols: Any, win: Window, shape: tuple[int, ...]) -> Any:
    """Sum columns (C, *k, N, *O) back into an input of `shape` (N, C, *S): one strided add per
    kernel tap. Returns an (N, C, *S) view of a (C, N, *S) array."""
    nd = len(win.kernel)
    n, c, *sizes = shape
    out = cols.shape[nd + 2:]
    full = tuple(s + a + b for s, (a, b) in zip(sizes, win.padding))
    xp = xp_of(cols)
    buf = xp.zeros((c, n) + full, dtype=cols.dtype)
    index = tap_index(win, tuple(out))

    def add(lo: int, hi: int) -> None:
        part, batch = buf[:, lo:hi], (slice(lo, hi),)
        for at, reads in index:
            part[reads] += cols[at + batch]

    split(add, n, cols.size, xp)  # over the batch: both cores where set
    return buf[unpadded(win, sizes)].transpose(channels_first(nd))


class Im2Col(Function):
    """x (N, C, *S) -> columns (C, *k, N, *O); fused for speed (stride tricks)."""

    saves = ""

    def __init__(self, win: Window, out: Sequence[int] | None = None) -> None:
        self.win, self.out = win, out

    def forward(self, x: Any) -> Any:
        return im2col_array(x, self.win, self.out)

    def backward(self, gy: Tensor) -> Tensor:
        return Col2Im(self.win, self.inputs[0].shape)(gy)


class Col2Im(Function):
    """columns (C, *k, N, *O) -> an input of `shape` (N, C, *S), overlaps summed: the adjoint of
    Im2Col, so each is the other's backward."""

    saves = ""

    def __init__(self, win: Window, shape: tuple[int, ...]) -> None:
        self.win, self.shape = win, tuple(shape)

    def forward(self, cols: Any) -> Any:
        return col2im_array(cols, self.win, self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        return Im2Col(self.win, self.inputs[0].shape[len(self.win.kernel) + 2:])(gy)


# -- argument checks -----------------------------------------------------------------------------
def _padding(padding: Any, kernel: tuple[int, ...], dilation: tuple[int, ...],
             stride: tuple[int, ...], who: str) -> tuple[tuple[int, int], ...]:
    """PyTorch's padding: an int, a tuple, 'valid' or 'same' (stride 1; an odd extra cell goes
    after: bottom / right)."""
    n = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{who}: padding='same' needs stride 1, got stride={stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{who}: padding must be an int, a tuple, 'valid' or 'same', "
                         f"got {padding!r}")
    p = ntuple(padding, n, "padding", who)
    if min(p) < 0:
        raise ValueError(f"{who}: padding must be >= 0, got {padding!r}")
    return tuple((e, e) for e in p)


def make_window(kernel: tuple[int, ...], stride: Any, padding: Any, dilation: Any,
                who: str) -> Window:
    """The Window of a kernel (one size per spatial axis) with PyTorch's stride, padding and
    dilation arguments (ints or tuples of len(kernel) ints), checked."""
    n = len(kernel)
    s, d = ntuple(stride, n, "stride", who), ntuple(dilation, n, "dilation", who)
    if min(kernel) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{who}: kernel_size, stride and dilation must be >= 1, got "
                         f"kernel_size={kernel}, stride={s}, dilation={d}")
    return Window(tuple(kernel), s, _padding(padding, tuple(kernel), d, s, who), d)


def _fmt(shape: Sequence[Any]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def check_input(x: Tensor, who: str, channels: int, dims: str) -> bool:
    """Raise a ShapeError naming `who` unless x is (N, channels, *dims) or unbatched
    (channels, *dims); return whether it is batched."""
    want = len(dims) + 2
    ok = x.ndim in (want, want - 1) and x.shape[x.ndim - len(dims) - 1] == channels
    if not ok:
        expected = _fmt(("N", channels) + tuple(dims))
        hint = ("" if x.ndim not in (want, want - 1) else
                f": it has {x.shape[x.ndim - len(dims) - 1]} channels, the layer takes {channels}")
        if x.ndim == 2 and want == 4:
            hint = (f"; images must be (N, C, H, W): reshape flat rows with "
                    f"x.reshape(-1, {channels}, H, W)")
        raise ShapeError(f"{who}: expected input of shape {expected}, got {tuple(x.shape)}{hint}")
    return x.ndim == want


def check_fits(who: str, x_shape: tuple[int, ...], win: Window) -> None:
    """Raise a ShapeError naming `who` if the window does not fit the padded (N, C, *S) input."""
    if min(win.out_size(*x_shape[2:])) < 1:
        span = tuple(win.span(a) for a in range(len(win.kernel)))
        raise ShapeError(
            f"{who}: input of spatial size {tuple(x_shape[2:])} with padding "
            f"{tuple(win.padding)} is smaller than the kernel (dilated size {span}); pad the "
            "input or use a smaller kernel"
        )


def _check_weight(who: str, weight: Tensor, ndim: int) -> None:
    if weight.ndim != ndim:
        raise ShapeError(f"{who}: weight must have {ndim} dimensions, got shape "
                         f"{tuple(weight.shape)}")
    if weight.shape[0] < 1:  # PyTorch refuses it too; an empty batch is fine, no filters is not
        raise ShapeError(f"{who}: expected weight to be at least 1 at dimension 0, but got "
                         f"weight of size {list(weight.shape)}")


# -- the size of the work buffer -----------------------------------------------------------------
class WorkBufferError(MemoryError, RuntimeError):
    """A convolution or pooling whose im2col columns cannot fit in the memory available; raised
    before allocating them. A MemoryError, and a RuntimeError as PyTorch's are."""


CHECK_ABOVE = 1 << 30  # buffers up to 1 GiB are allocated without asking the system


def available_memory() -> int | None:
    """Bytes of host memory available now (Linux's MemAvailable, within the cgroup's limit;
    the physical memory elsewhere), or None where unknown."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return None
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        if limit != "max":
            with open("/sys/fs/cgroup/memory.current") as f:
                avail = min(avail, int(limit) - int(f.read()))
    except (OSError, ValueError):
        pass
    return avail


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MiB"


def check_work_buffer(who: str, x: Tensor, rows: int, cols: int, what: str) -> None:
    """Refuse, before allocating it, a (rows, cols) work buffer of x's dtype that needs more
    than the memory available (host arrays only), naming the op, the shapes and the fix. cols
    grows with the batch, which is what the user can make smaller."""
    nbytes = rows * cols * x.array.dtype.itemsize
    if nbytes <= CHECK_ABOVE or xp_of(x.array).__name__ != "numpy":
        return
    avail = available_memory()
    if avail is None or nbytes <= avail:
        return
    n = x.shape[0]
    per = nbytes / max(n, 1)
    fit = int(avail // (2 * per)) if per else 0  # half the memory: the output and gradients
    fix = (f"use a smaller batch: e.g. run x.split({fit}) piece by piece and cat the outputs"
           if 0 < fit < n else "even one sample does not fit: use a smaller input or kernel")
    raise WorkBufferError(
        f"{who}: input of shape {tuple(x.shape)} {what} needs a work buffer of {_gib(nbytes)} "
        f"(im2col columns of shape ({rows}, {cols}), {x.array.dtype}), more than the "
        f"{_gib(avail)} of memory available; {fix}")


def _check_groups(who: str, groups: int, **channels: int) -> None:
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    for name, c in channels.items():
        if c % groups:
            raise ValueError(f"{who}: {name}={c} is not divisible by groups={groups}")


def _check_bias(who: str, bias: Tensor | None, c_out: int) -> None:
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ShapeError(f"{who}: bias must have shape ({c_out},), got {tuple(bias.shape)}")


# -- the convolutions ----------------------------------------------------------------------------
def convolve(x: Tensor, weight: Tensor, bias: Tensor | None, win: Window,
             groups: int, who: str = "conv") -> Tensor:
    """The core of conv1d / 2d / 3d: x (N, C, *S), weight (C_out, C/groups, *k), checked."""
    nd = len(win.kernel)
    n, out = x.shape[0], win.out_size(*x.shape[2:])
    c_out, m = weight.shape[0], x.shape[0] * math.prod(out)
    k = x.shape[1] * math.prod(win.kernel)  # sizes spelled out: -1 is ambiguous when N = 0
    check_work_buffer(who, x, k, m, f"and weight of shape {tuple(weight.shape)}")
    cols = Im2Col(win)(x)  # (C, *k, N, *O)
    if groups == 1:
        y = weight.reshape(c_out, k) @ cols.reshape(k, m)
    else:
        y = weight.reshape(groups, c_out // groups, k // groups) @ cols.reshape(
            groups, k // groups, m)
    y = y.reshape((c_out, n) + out)
    if bias is not None:
        y = y + bias.reshape((c_out,) + (1,) * (nd + 1))
    return y.permute(channels_first(nd))


def _conv(who: str, nd: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
          padding: Any, dilation: Any, groups: int) -> Tensor:
    x, weight, *b = as_operands((input, weight) + (() if bias is None else (bias,)))
    _check_weight(who, weight, nd + 2)
    c_out, c_in_g = weight.shape[:2]
    _check_groups(who, groups, out_channels=c_out)
    batched = check_input(x, who, c_in_g * groups, SPATIAL[nd])
    x = x if batched else x.reshape((1,) + x.shape)
    bias = b[0] if b else None
    _check_bias(who, bias, c_out)
    win = make_window(tuple(weight.shape[2:]), stride, padding, dilation, who)
    check_fits(who, x.shape, win)
    y = convolve(x, weight, bias, win, groups, who)
    return y if batched else y.reshape(y.shape[1:])


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation as in PyTorch: input (N, C_in, L) or (C_in, L), weight
    (C_out, C_in/groups, k), bias (C_out,) -> (N, C_out, OL); padding may be 'same' or
    'valid'."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation as in PyTorch: input (N, C_in, H, W) or (C_in, H, W), weight
    (C_out, C_in/groups, kh, kw), bias (C_out,) -> (N, C_out, OH, OW)."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-D cross-correlation as in PyTorch: input (N, C_in, D, H, W) or (C_in, D, H, W), weight
    (C_out, C_in/groups, kd, kh, kw), bias (C_out,) -> (N, C_out, OD, OH, OW)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(who: str, nd: int, input: Tensor, weight: Tensor, bias: Tensor | None,
                    stride: Any, padding: Any, output_padding: Any, groups: int,
                    dilation: Any) -> Tensor:
    x, weight, *b = as_operands((input, weight) + (() if bias is None else (bias,)))
    _check_weight(who, weight, nd + 2)
    c_in, c_out_g, *k = weight.shape
    _check_groups(who, groups, in_channels=c_in)
    batched = check_input(x, who, c_in, SPATIAL[nd])
    x = x if batched else x.reshape((1,) + x.shape)
    c_out = c_out_g * groups
    bias = b[0] if b else None
    _check_bias(who, bias, c_out)
    if isinstance(padding, str):
        raise ValueError(f"{who}: padding must be an int or a tuple of ints, got {padding!r}")
    win = make_window(tuple(k), stride, padding, dilation, who)
    shape = _transposed_shape(who, x.shape, c_out, win,
                              ntuple(output_padding, nd, "output_padding", who))
    m, kk = x.shape[0] * math.prod(x.shape[2:]), c_out_g * math.prod(k)
    check_work_buffer(who, x, kk * groups, m, f"and weight of shape {tuple(weight.shape)}")
    xs = x.permute(channels_first(nd)).reshape(c_in, m)  # (C_in, N * prod(S))
    if groups == 1:
        cols = weight.reshape(c_in, kk).T @ xs
    else:
        wm = weight.reshape(groups, c_in // groups, kk).swapaxes(1, 2)
        cols = wm @ xs.reshape(groups, c_in // groups, m)
    y = Col2Im(win, shape)(cols.reshape((c_out, *k, x.shape[0]) + tuple(x.shape[2:])))
    if bias is not None:
        y = y + bias.reshape((1, c_out) + (1,) * nd)
    return y if batched else y.reshape(y.shape[1:])


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 1-D convolution (the adjoint of conv1d) as in PyTorch: input (N, C_in, L) or
    (C_in, L), weight (C_in, C_out/groups, k), bias (C_out,) -> (N, C_out, OL) with
    OL = (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 2-D convolution (the adjoint of conv2d) as in PyTorch: input (N, C_in, H, W),
    weight (C_in, C_out/groups, kh, kw), bias (C_out,) -> (N, C_out, OH, OW) with
    OH = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed 3-D convolution (the adjoint of conv3d) as in PyTorch: input
    (N, C_in, D, H, W), weight (C_in, C_out/groups, kd, kh, kw), bias (C_out,) ->
    (N, C_out, OD, OH, OW), each size as conv_transpose2d's."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def _transposed_shape(who: str, x_shape: tuple[int, ...], c_out: int, win: Window,
                      out_pad: tuple[int, ...]) -> tuple[int, ...]:
    size = []
    for a in range(len(win.kernel)):
        if not 0 <= out_pad[a] < max(win.stride[a], win.dilation[a]):
            raise ValueError(f"{who}: output_padding {out_pad} must be >= 0 and smaller than "
                             f"stride {win.stride} or dilation {win.dilation}")
        size.append((x_shape[2 + a] - 1) * win.stride[a] - sum(win.padding[a]) + win.span(a)
                    + out_pad[a])
    if min(size) < 1:
        raise ShapeError(f"{who}: input {tuple(x_shape)} gives an empty output {tuple(size)}; "
                         "reduce the padding")
    return (x_shape[0], c_out) + tuple(size)
