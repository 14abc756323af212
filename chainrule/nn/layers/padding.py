"""Padding modules (ZeroPad, ConstantPad, ReflectionPad, ReplicationPad, CircularPad; 1d, 2d, 3d),
each F.pad with a fixed padding and mode, as in PyTorch.

padding is an int (the same on every side) or a tuple listed from the LAST dim: (left, right)
for 1d; (left, right, top, bottom) for 2d; (left, right, top, bottom, front, back) for 3d. A
tuple is taken as it is (as PyTorch's _ntuple does), so ReflectionPad2d((1, 1)) pads the last dim
only.
"""

from __future__ import annotations

from typing import Any

from chainrule.nn.layers.linear import pad
from chainrule.nn.module import Module
from chainrule.operands import as_operand
from chainrule.tensor import Tensor


def _ntuple(padding: Any, n: int) -> tuple:
    if isinstance(padding, (str, bytes)) or not hasattr(padding, "__iter__"):
        return (padding,) * n
    return tuple(padding)


class _PadNd(Module):
    _n = 1            # dims padded: 1, 2 or 3
    _mode = ""

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self.padding = _ntuple(padding, 2 * self._n)

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    _mode = "constant"

    def __init__(self, padding: Any, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with value: (left, right), or an int for both."""

    _n = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dims with value: (left, right, top, bottom), or an int for all."""

    _n = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dims with value: (left, right, top, bottom, front, back)."""

    _n = 3


class ZeroPad1d(ConstantPad1d):
    """Pads the last dim with zeros: (left, right), or an int for both."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pads the last two dims with zeros: (left, right, top, bottom), or an int for all."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pads the last three dims with zeros: (left, right, top, bottom, front, back)."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ReflectionPad1d(_PadNd):
    """Mirrors the last dim about its edge (the edge itself not repeated); input (C, W) or
    (N, C, W), each pad smaller than the dim."""

    _n, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Mirrors the last two dims about their edges; input (C, H, W) or (N, C, H, W)."""

    _n, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Mirrors the last three dims about their edges; input (C, D, H, W) or (N, C, D, H, W)."""

    _n, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Repeats the edge values of the last dim; input (C, W) or (N, C, W)."""

    _n, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Repeats the edge values of the last two dims; input (C, H, W) or (N, C, H, W)."""

    _n, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Repeats the edge values of the last three dims; input (C, D, H, W) or (N, C, D, H, W)."""

    _n, _mode = 3, "replicate"


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input: Tensor) -> Tensor:
        d = as_operand(input).ndim
        if d not in (self._n + 1, self._n + 2):
            raise ValueError(f"expected {self._n + 1}D or {self._n + 2}D input (got {d}D input)")
        return pad(input, self.padding, "circular")


class CircularPad1d(_CircularPadNd):
    """Wraps the last dim around (the left pad comes from the right end); input (C, W) or
    (N, C, W)."""

    _n = 1


class CircularPad2d(_CircularPadNd):
    """Wraps the last two dims around; input (C, H, W) or (N, C, H, W)."""

    _n = 2


class CircularPad3d(_CircularPadNd):
    """Wraps the last three dims around; input (C, D, H, W) or (N, C, D, H, W)."""

    _n = 3
