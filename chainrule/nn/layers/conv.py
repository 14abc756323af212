"""Convolution layers: Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
(PyTorch's arguments, layouts, defaults).

The work is done by the fused ops in chainrule.ops.conv (Im2Col / Col2Im and one matmul), which
serve any number of spatial dims.
Weights start as PyTorch's: kaiming_uniform_ with a = sqrt(5), i.e. U(-1/sqrt(fan_in),
1/sqrt(fan_in)), and the bias in the same range, with fan_in = weight.shape[1] * prod(kernel).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.backend import as_dtype
from chainrule.dtypes import default_float
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.operands import as_tensor
from chainrule.ops.conv import (  # noqa: F401  (conv_transpose1d: F's import path)
    check_fits,
    check_input,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    make_window,
)
from chainrule.ops.conv import ntuple as _ntuple
from chainrule.tensor import Tensor


class _ConvNd(Module):
    """What the Conv and ConvTranspose layers share: arguments, parameters, init and repr."""

    dims = "HW"
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int, bias: bool, padding_mode: str,
                 dtype: Any, output_padding: Any = 0, device: Any = None) -> None:
        super().__init__()
        n = len(self.dims)
        who = f"{type(self).__name__}({in_channels}, {out_channels})"
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size", who)
        self.stride = _ntuple(stride, n, "stride", who)
        self.dilation = _ntuple(dilation, n, "dilation", who)
        self.output_padding = _ntuple(output_padding, n, "output_padding", who)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, n, "padding",
                                                                         who)
        _check_args(who, in_channels, out_channels, groups, self.padding, self.stride,
                    padding_mode)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.padding_mode = padding_mode
        shape = ((in_channels, out_channels // groups) if self.transposed else
                 (out_channels, in_channels // groups)) + self.kernel_size
        dt = default_float() if dtype is None else as_dtype(dtype)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        self._to_device(device)

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * int(np.prod(self.kernel_size))
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    @property
    def label(self) -> str:
        """The short name used in error messages: Conv2d(1, 8, kernel_size=(3, 3))."""
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size})")

    def _check(self, x: Any) -> None:
        """Wrong shapes raise errors that name this layer (before any work is done)."""
        x = as_tensor(x)
        batched = check_input(x, self.label, self.in_channels, self.dims)
        if self.transposed:
            return
        shape = x.shape if batched else (1,) + x.shape
        win = make_window(self.kernel_size, self.stride, self.padding, self.dilation, self.label)
        check_fits(self.label, shape, win)

    def extra_repr(self) -> str:
        n = len(self.dims)
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


def _check_args(who: str, c_in: int, c_out: int, groups: int, padding: Any,
                stride: tuple[int, ...], padding_mode: str) -> None:
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    if c_in % groups or c_out % groups:
        raise ValueError(f"{who}: in_channels and out_channels must both be divisible by "
                         f"groups={groups}")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{who}: padding must be an int, a tuple, 'same' or 'valid', "
                             f"got {padding!r}")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError(f"{who}: padding='same' is not supported for strided "
                             f"convolutions (stride={stride})")
    if padding_mode != "zeros":
        raise NotImplementedError(f"{who}: padding_mode={padding_mode!r} is not supported; "
                                  "only 'zeros' (pad the input yourself with F.pad)")


class _Conv(_ConvNd):
    """What Conv1d, Conv2d and Conv3d share: PyTorch's constructor and a forward through the
    convolution op of their dimension (`op`)."""

    op: Any

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, device=device)

    def forward(self, input: Tensor) -> Tensor:
        self._check(input)
        return type(self).op(input, self.weight, self.bias, self.stride, self.padding,
                             self.dilation, self.groups)


class Conv1d(_Conv):
    """1-D convolution (cross-correlation) over x (N, C_in, L) or (C_in, L) -> (N, C_out, OL),
    OL = (L + 2 padding - dilation (kernel_size - 1) - 1) // stride + 1.
    weight (C_out, C_in / groups, kernel_size), bias (C_out,)."""

    dims = "L"
    op = staticmethod(conv1d)


class Conv2d(_Conv):
    """2-D convolution (cross-correlation) over x (N, C_in, H, W) or (C_in, H, W) ->
    (N, C_out, OH, OW), OH = (H + 2 padding - dilation (kh - 1) - 1) // stride + 1.
    weight (C_out, C_in / groups, kh, kw), bias (C_out,); padding may be 'same' or 'valid'."""

    op = staticmethod(conv2d)


class Conv3d(_Conv):
    """3-D convolution (cross-correlation) over x (N, C_in, D, H, W) or (C_in, D, H, W) ->
    (N, C_out, OD, OH, OW), each size as Conv2d's. weight (C_out, C_in / groups, kd, kh, kw),
    bias (C_out,); padding may be 'same' or 'valid'."""

    dims = "DHW"
    op = staticmethod(conv3d)


class _ConvTransposeNd(_ConvNd):
    """What ConvTranspose1d and ConvTranspose2d share: PyTorch's argument order and checks, and
    output_size= in forward."""

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of "
                             f"ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, output_padding, device)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if not 0 <= op < max(s, d):
                raise ValueError(f"{self.label}: output_padding {self.output_padding} must be "
                                 f"smaller than stride {self.stride} or dilation {self.dilation}")

    def _output_padding(self, x: Any, output_size: Any) -> tuple[int, ...]:
        """self.output_padding, or the one that makes the output output_size (PyTorch's
        rule: each size must lie in [min, min + stride - 1])."""
        if output_size is None:
            return self.output_padding
        n = len(self.dims)
        ndim = len(x.shape)
        lead = 2 if ndim == n + 2 else 1
        size = [int(v) for v in output_size]
        if len(size) == lead + n:
            size = size[lead:]
        if len(size) != n:
            raise ValueError(f"ConvTranspose{n}D: for {ndim}D input, output_size must have {n} "
                             f"or {lead + n} elements (got {len(size)})")
        lo = [(x.shape[lead + d] - 1) * self.stride[d] - 2 * self.padding[d]
              + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(n)]
        hi = [m + s - 1 for m, s in zip(lo, self.stride)]
        if any(not a <= v <= b for v, a, b in zip(size, lo, hi)):
            raise ValueError(f"{self.label}: requested an output size of {size}, but valid "
                             f"sizes range from {lo} to {hi} (for an input of "
                             f"{tuple(x.shape[lead:])})")
        return tuple(v - a for v, a in zip(size, lo))


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (the gradient of Conv2d with respect to its input), x
    (N, C_in, H, W) or (C_in, H, W) -> (N, C_out, OH, OW) with OH = (H - 1) stride - 2 padding +
    dilation (kh - 1) + output_padding + 1. weight (C_in, C_out / groups, kh, kw)."""

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        """output_size (the spatial size, optionally with N and C in front) picks the
        output_padding that gives it, as in PyTorch."""
        self._check(input)
        out_pad = self._output_padding(input, output_size)
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                out_pad, self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution (the gradient of Conv1d with respect to its input), x
    (N, C_in, L) or (C_in, L) -> (N, C_out, OL) with OL = (L - 1) stride - 2 padding +
    dilation (kernel_size - 1) + output_padding + 1. weight (C_in, C_out / groups, kernel_size)."""

    dims = "L"

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        self._check(input)
        out_pad = self._output_padding(input, output_size)
        return conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                out_pad, self.groups, self.dilation)


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution (the gradient of Conv3d with respect to its input), x
    (N, C_in, D, H, W) or (C_in, D, H, W) -> (N, C_out, OD, OH, OW), each size as
    ConvTranspose2d's. weight (C_in, C_out / groups, kd, kh, kw)."""

    dims = "DHW"

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        self._check(input)
        out_pad = self._output_padding(input, output_size)
        return conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding,
                                out_pad, self.groups, self.dilation)
