"""Convolution as fused ops: Im2Col and Col2Im, each the other's adjoint (and so each the other's
backward), and conv1d / conv2d / conv_transpose2d built from them with one matmul each.

Layout: images are NCHW as in PyTorch. Columns are (C, kh, kw, N, OH, OW): with the batch inside
the columns, a whole convolution is ONE big (C_out, K) @ (K, N*OH*OW) matmul, which BLAS runs at
full speed, where a batch of N small matmuls does not. Its result comes out as (C_out, N, OH, OW)
and is handed on as a transposed NCHW view; the next Im2Col reads that layout with unit strides.
Because the backward of every piece is another differentiable op, conv is differentiable to every
order (gradgradcheck holds).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.operands import as_operands
from chainrule.tensor import Tensor


class Window(NamedTuple):
    """Sliding-window geometry over the two spatial axes (height, width)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[tuple[int, int], tuple[int, int]]  # (top, bottom), (left, right)
    dilation: tuple[int, int]

    def span(self, axis: int) -> int:
        """Extent of one dilated kernel along axis (0: height, 1: width)."""
        return self.dilation[axis] * (self.kernel[axis] - 1) + 1

    def out_size(self, h: int, w: int) -> tuple[int, int]:
        """(OH, OW) for an (h, w) image; may be <= 0 when the kernel does not fit."""
        return tuple((n + sum(self.padding[a]) - self.span(a)) // self.stride[a] + 1
                     for a, n in enumerate((h, w)))

    def slices(self, i: int, j: int, oh: int, ow: int) -> tuple[slice, slice]:
        """Where kernel tap (i, j) reads, over all output positions, in the padded image."""
        (sh, sw), (dh, dw) = self.stride, self.dilation
        return (slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def pair(value: Any, name: str, who: str) -> tuple[int, int]:
    """An int or a pair of ints as a pair (PyTorch's kernel_size=3 or (3, 5))."""
    v = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(v) != 2 or not all(isinstance(e, int) and not isinstance(e, bool) for e in v):
        raise ValueError(f"{who}: {name} must be an int or a pair of ints, got {value!r}")
    return int(v[0]), int(v[1])


def padded(x: Any, win: Window, fill: float) -> Any:
    """x (N, C, H, W) as a (C, N, Hp, Wp) array with the window's padding filled with `fill`;
    a view when there is no padding."""
    xt = x.transpose(1, 0, 2, 3)
    (pt, pb), (pl, pr) = win.padding
    if not (pt or pb or pl or pr):
        return xt
    c, n, h, w = xt.shape
    shape = (c, n, h + pt + pb, w + pl + pr)
    xp = xp_of(x)
    buf = xp.zeros(shape, dtype=x.dtype) if fill == 0 else xp.full(shape, fill, dtype=x.dtype)
    buf[:, :, pt:pt + h, pl:pl + w] = xt
    return buf


def im2col_array(x: Any, win: Window, out_hw: tuple[int, int] | None = None,
                 fill: float = 0.0) -> Any:
    """The columns of x (N, C, H, W): a new (C, kh, kw, N, OH, OW) array."""
    xp = xp_of(x)
    src = padded(x, win, fill)
    oh, ow = out_hw or win.out_size(x.shape[2], x.shape[3])
    (kh, kw), (sh, sw), (dh, dw) = win.kernel, win.stride, win.dilation
    sc, sn, sy, sx = src.strides
    view = xp.lib.stride_tricks.as_strided(
        src, (src.shape[0], kh, kw, src.shape[1], oh, ow),
        (sc, dh * sy, dw * sx, sn, sh * sy, sw * sx))  # read-only use: copied at once
    return xp.ascontiguousarray(view)


def col2im_array(cols: Any, win: Window, shape: tuple[int, ...]) -> Any:
    """Sum columns (C, kh, kw, N, OH, OW) back into an image of `shape` (N, C, H, W): one
    strided add per kernel tap. Returns an NCHW view of a (C, N, H, W) array."""
    n, c, h, w = shape
    (pt, pb), (pl, pr) = win.padding
    _, kh, kw, _, oh, ow = cols.shape
    buf = xp_of(cols).zeros((c, n, h + pt + pb, w + pl + pr), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, colz = win.slices(i, j, oh, ow)
            buf[:, :, rows, colz] += cols[:, i, j]
    return buf[:, :, pt:pt + h, pl:pl + w].transpose(1, 0, 2, 3)


class Im2Col(Function):
    """x (N, C, H, W) -> columns (C, kh, kw, N, OH, OW); fused for speed (stride tricks)."""

    saves = ""

    def __init__(self, win: Window, out_hw: tuple[int, int] | None = None) -> None:
        self.win, self.out_hw = win, out_hw

    def forward(self, x: Any) -> Any:
        return im2col_array(x, self.win, self.out_hw)

    def backward(self, gy: Tensor) -> Tensor:
        return Col2Im(self.win, self.inputs[0].shape)(gy)


class Col2Im(Function):
    """columns (C, kh, kw, N, OH, OW) -> image of `shape` (N, C, H, W), overlaps summed: the
    adjoint of Im2Col, so each is the other's backward."""

    saves = ""

    def __init__(self, win: Window, shape: tuple[int, ...]) -> None:
        self.win, self.shape = win, tuple(shape)

    def forward(self, cols: Any) -> Any:
        return col2im_array(cols, self.win, self.shape)

    def backward(self, gy: Tensor) -> Tensor:
        oh, ow = self.inputs[0].shape[4:]
        return Im2Col(self.win, (oh, ow))(gy)


# -- argument checks -----------------------------------------------------------------------------
def _padding(padding: Any, win_kernel: tuple[int, int], dilation: tuple[int, int],
             stride: tuple[int, int], who: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """PyTorch's padding: an int, a pair, 'valid' or 'same' (stride 1; extra goes bottom/right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{who}: padding='same' needs stride 1, got stride={stride}")
            totals = [d * (k - 1) for k, d in zip(win_kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)  # type: ignore[return-value]
        raise ValueError(f"{who}: padding must be an int, a pair, 'valid' or 'same', "
                         f"got {padding!r}")
    p = pair(padding, "padding", who)
    if min(p) < 0:
        raise ValueError(f"{who}: padding must be >= 0, got {padding!r}")
    return (p[0], p[0]), (p[1], p[1])


def make_window(kernel: tuple[int, int], stride: Any, padding: Any, dilation: Any,
                who: str) -> Window:
    s, d = pair(stride, "stride", who), pair(dilation, "dilation", who)
    if min(kernel) < 1 or min(s) < 1 or min(d) < 1:
        raise ValueError(f"{who}: kernel_size, stride and dilation must be >= 1, got "
                         f"kernel_size={kernel}, stride={s}, dilation={d}")
    return Window(kernel, s, _padding(padding, kernel, d, s, who), d)


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


def check_fits(who: str, x_shape: tuple[int, ...], win: Window, dims: int = 2) -> None:
    """Raise a ShapeError naming `who` if the window does not fit the padded (N, C, H, W) input
    (dims=1: report only the width, for 1-D convolutions)."""
    oh, ow = win.out_size(x_shape[2], x_shape[3])
    if oh < 1 or ow < 1:
        size, pad = tuple(x_shape[4 - dims:]), tuple(win.padding[2 - dims:])
        span = (win.span(0), win.span(1))[2 - dims:]
        raise ShapeError(
            f"{who}: input of spatial size {size} with padding {pad} is smaller than the kernel "
            f"(dilated size {span}); pad the input or use a smaller kernel"
        )


def _check_weight(who: str, weight: Tensor, ndim: int) -> None:
    if weight.ndim != ndim:
        raise ShapeError(f"{who}: weight must have {ndim} dimensions, got shape "
                         f"{tuple(weight.shape)}")


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
def conv_nchw(x: Tensor, weight: Tensor, bias: Tensor | None, win: Window,
              groups: int) -> Tensor:
    """The core of conv1d / conv2d: x (N, C, H, W), weight (C_out, C/groups, kh, kw), checked."""
    n, oh, ow = x.shape[0], *win.out_size(x.shape[2], x.shape[3])
    c_out = weight.shape[0]
    cols = Im2Col(win)(x)  # (C, kh, kw, N, OH, OW)
    if groups == 1:
        y = weight.reshape(c_out, -1) @ cols.reshape(-1, n * oh * ow)
    else:
        y = weight.reshape(groups, c_out // groups, -1) @ cols.reshape(groups, -1, n * oh * ow)
    y = y.reshape(c_out, n, oh, ow)
    if bias is not None:
        y = y + bias.reshape(c_out, 1, 1, 1)
    return y.permute(1, 0, 2, 3)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation as in PyTorch: input (N, C_in, H, W) or (C_in, H, W), weight
    (C_out, C_in/groups, kh, kw), bias (C_out,) -> (N, C_out, OH, OW)."""
    x, weight, *b = as_operands((input, weight) + (() if bias is None else (bias,)))
    who = "conv2d"
    _check_weight(who, weight, 4)
    c_out, c_in_g = weight.shape[:2]
    _check_groups(who, groups, out_channels=c_out)
    batched = check_input(x, who, c_in_g * groups, "HW")
    x = x if batched else x.reshape((1,) + x.shape)
    bias = b[0] if b else None
    _check_bias(who, bias, c_out)
    win = make_window(tuple(weight.shape[2:]), stride, padding, dilation, who)
    check_fits(who, x.shape, win)
    y = conv_nchw(x, weight, bias, win, groups)
    return y if batched else y.reshape(y.shape[1:])


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D cross-correlation as in PyTorch: input (N, C_in, L) or (C_in, L), weight
    (C_out, C_in/groups, k), bias (C_out,) -> (N, C_out, OL). Runs as conv2d with height 1."""
    x, weight, *b = as_operands((input, weight) + (() if bias is None else (bias,)))
    who = "conv1d"
    _check_weight(who, weight, 3)
    c_out, c_in_g, k = weight.shape
    _check_groups(who, groups, out_channels=c_out)
    batched = check_input(x, who, c_in_g * groups, "L")
    x = x if batched else x.reshape((1,) + x.shape)
    bias = b[0] if b else None
    _check_bias(who, bias, c_out)
    pad = padding if isinstance(padding, str) else (0, _single(padding, "padding", who))
    win = make_window((1, k), (1, _single(stride, "stride", who)), pad,
                      (1, _single(dilation, "dilation", who)), who)
    x4 = x.reshape(x.shape[:2] + (1, x.shape[2]))
    check_fits(who, x4.shape, win, 1)
    y = conv_nchw(x4, weight.reshape(c_out, c_in_g, 1, k), bias, win, groups)
    y = y.reshape((y.shape[0], c_out, y.shape[3]))
    return y if batched else y.reshape(y.shape[1:])


def _single(v: Any, name: str, who: str) -> int:
    v = v[0] if isinstance(v, (tuple, list)) and len(v) == 1 else v
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValueError(f"{who}: {name} must be an int, got {v!r}")
    return v


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed convolution (the adjoint of conv2d) as in PyTorch: input (N, C_in, H, W),
    weight (C_in, C_out/groups, kh, kw), bias (C_out,) -> (N, C_out, OH, OW) with
    OH = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1."""
    x, weight, *b = as_operands((input, weight) + (() if bias is None else (bias,)))
    who = "conv_transpose2d"
    _check_weight(who, weight, 4)
    c_in, c_out_g, kh, kw = weight.shape
    _check_groups(who, groups, in_channels=c_in)
    batched = check_input(x, who, c_in, "HW")
    x = x if batched else x.reshape((1,) + x.shape)
    c_out = c_out_g * groups
    bias = b[0] if b else None
    _check_bias(who, bias, c_out)
    if isinstance(padding, str):
        raise ValueError(f"{who}: padding must be an int or a pair, got {padding!r}")
    win = make_window((kh, kw), stride, padding, dilation, who)
    shape = _transposed_shape(who, x.shape, c_out, win, pair(output_padding, "output_padding",
                                                              who))
    n, _, h, w = x.shape
    if groups == 1:
        cols = weight.reshape(c_in, -1).T @ x.permute(1, 0, 2, 3).reshape(c_in, -1)
    else:
        wm = weight.reshape(groups, c_in // groups, -1).swapaxes(1, 2)
        cols = wm @ x.permute(1, 0, 2, 3).reshape(groups, c_in // groups, -1)
    y = Col2Im(win, shape)(cols.reshape(c_out, kh, kw, n, h, w))
    if bias is not None:
        y = y + bias.reshape(1, c_out, 1, 1)
    return y if batched else y.reshape(y.shape[1:])


def _transposed_shape(who: str, x_shape: tuple[int, ...], c_out: int, win: Window,
                      out_pad: tuple[int, int]) -> tuple[int, int, int, int]:
    size = []
    for a in range(2):
        if not 0 <= out_pad[a] < max(win.stride[a], win.dilation[a]):
            raise ValueError(f"{who}: output_padding {out_pad} must be >= 0 and smaller than "
                             f"stride {win.stride} or dilation {win.dilation}")
        size.append((x_shape[2 + a] - 1) * win.stride[a] - sum(win.padding[a]) + win.span(a)
                    + out_pad[a])
    if min(size) < 1:
        raise ShapeError(f"{who}: input {tuple(x_shape)} gives an empty output {tuple(size)}; "
                         "reduce the padding")
    return x_shape[0], c_out, size[0], size[1]

