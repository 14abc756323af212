"""More activation modules (SiLU, Mish, Hardtanh, ReLU6, SELU, CELU, PReLU, GLU, Hardswish,
Hardsigmoid, Softsign, Softmin, Softmax2d, LogSigmoid, Threshold, Softshrink, Hardshrink,
Tanhshrink) and the functional forms that take inplace= or change their input (F.hardtanh_,
F.relu_, ...), each as PyTorch's: same arguments, defaults, reprs and errors."""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from chainrule.backend import as_dtype
from chainrule.dtypes import default_float
from chainrule.inplace import apply
from chainrule.nn import init
from chainrule.nn.module import Module, Parameter
from chainrule.operands import as_operand
from chainrule.ops import activation_more as E
from chainrule.ops.softmax import softmax as _softmax
from chainrule.ops.special import logsigmoid
from chainrule.tensor import Tensor


def _in_place(input: Any, name: str, fn: Callable[..., Tensor], *args: Any) -> Tensor:
    """input <- fn(input, *args), in place (recorded by autograd where it must be)."""
    x = as_operand(input)
    return apply(x, name, lambda: fn(x, *args))


# -- functional forms with inplace= --------------------------------------------------------------
def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    if inplace:
        return _in_place(input, "threshold_", E.threshold, threshold, value)
    return E.threshold(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _in_place(input, "threshold_", E.threshold, threshold, value)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """clamp(x, min_val, max_val)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return _in_place(input, "hardtanh_", E.hardtanh, min_val, max_val)
    return E.hardtanh(input, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def relu_(input: Tensor) -> Tensor:
    return as_operand(input).relu_()


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return as_operand(input).elu_(alpha)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return as_operand(input).leaky_relu_(negative_slope)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha), PyTorch's constants."""
    return _in_place(input, "selu_", E.selu) if inplace else E.selu(input)


def selu_(input: Tensor) -> Tensor:
    return _in_place(input, "selu_", E.selu)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    return _in_place(input, "celu_", E.celu, alpha) if inplace else E.celu(input, alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return _in_place(input, "celu_", E.celu, alpha)


def _unary(name: str, doc: str) -> Callable[..., Tensor]:
    fn = getattr(E, name)

    def f(input: Tensor, inplace: bool = False) -> Tensor:
        return _in_place(input, name + "_", fn) if inplace else fn(input)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    return f


hardsigmoid = _unary("hardsigmoid", "relu6(x + 3) / 6.")
hardswish = _unary("hardswish", "x * relu6(x + 3) / 6.")
silu = _unary("silu", "x * sigmoid(x).")
mish = _unary("mish", "x * tanh(softplus(x)).")


# -- modules -------------------------------------------------------------------------------------
class _Inplace(Module):
    """An activation whose only option is inplace=, shown in the repr when True."""

    _fn: Callable[..., Tensor]

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class SiLU(_Inplace):
    """x * sigmoid(x)."""

    _fn = silu


class Mish(_Inplace):
    """x * tanh(softplus(x))."""

    _fn = mish


class SELU(_Inplace):
    """scale * elu(x, alpha) with alpha = 1.6733, scale = 1.0507."""

    _fn = selu


class Hardsigmoid(_Inplace):
    """relu6(x + 3) / 6 (PyTorch's repr leaves inplace out)."""

    _fn = hardsigmoid

    def extra_repr(self) -> str:
        return ""


class Hardswish(_Inplace):
    """x * relu6(x + 3) / 6 (PyTorch's repr leaves inplace out)."""

    _fn = hardswish

    def extra_repr(self) -> str:
        return ""


class Threshold(Module):
    """x where x > threshold, else value."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        return threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return (f"threshold={self.threshold}, value={self.value}"
                + (", inplace=True" if self.inplace else ""))


class Hardtanh(Module):
    """clamp(x, min_val, max_val); min_value= / max_value= are PyTorch's deprecated spellings."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: float | None = None, max_value: float | None = None) -> None:
        super().__init__()
        for old, new, v in (("min_value", "min_val", min_value),
                            ("max_value", "max_val", max_value)):
            if v is not None:
                warnings.warn(f"keyword argument `{old}` is deprecated and renamed to `{new}`",
                              FutureWarning, stacklevel=2)
        min_val = min_val if min_value is None else min_value
        max_val = max_val if max_value is None else max_value
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace
        if self.max_val <= self.min_val:
            raise AssertionError(
                f"max_val ({self.max_val}) must be greater than min_val ({self.min_val})")

    def forward(self, input: Tensor) -> Tensor:
        return hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return (f"min_val={self.min_val}, max_val={self.max_val}"
                + (", inplace=True" if self.inplace else ""))


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class CELU(Module):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GLU(Module):
    """First half of the input along dim times sigmoid of the second half."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return E.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Hardshrink(Module):
    """x where |x| > lambd, else 0."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return E.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""

    def forward(self, input: Tensor) -> Tensor:
        return E.softshrink(input, self.lambd)


class PReLU(Module):
    """x where x > 0, else weight * x: weight (num_parameters,), filled with init; one weight
    for all channels (num_parameters=1) or one per channel (dim 1 of the input)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        dt = default_float() if dtype is None else as_dtype(dtype)
        self.weight = Parameter(np.empty((num_parameters,), dtype=dt))
        self.reset_parameters()
        self._to_device(device)

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return E.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class LogSigmoid(Module):
    """log(sigmoid(x))."""

    def forward(self, input: Tensor) -> Tensor:
        return logsigmoid(input)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, input: Tensor) -> Tensor:
        return E.softsign(input)


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, input: Tensor) -> Tensor:
        return E.tanhshrink(input)


class Softmin(Module):
    """softmax(-x) along dim (give dim: without it PyTorch's deprecated implicit choice)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return E.softmin(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax2d(Module):
    """Softmax over the channels of each position: (N, C, H, W) or (C, H, W), along dim -3."""

    def forward(self, input: Tensor) -> Tensor:
        x = as_operand(input)
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {x.ndim}D instead")
        return _softmax(x, -3)
