"""Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d (PyTorch's arguments and defaults).

The work is done by chainrule.ops.pool; inputs are (N, C, H, W) or unbatched (C, H, W).
"""

from __future__ import annotations

from typing import Any

from chainrule.errors import ShapeError
from chainrule.nn.module import Module
from chainrule.ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from chainrule.tensor import Tensor


class _Pool2d(Module):
    def _check(self, x: Any) -> None:
        shape = tuple(getattr(x, "shape", ()))
        if len(shape) not in (3, 4):
            raise ShapeError(f"{type(self).__name__}({self.extra_repr()}): expected input of "
                             f"shape (N, C, H, W) or (C, H, W), got {shape}")


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

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
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

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
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

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
