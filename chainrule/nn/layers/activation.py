"""Activations as modules, each a thin wrapper over the engine op of the same name."""

from __future__ import annotations

import math
from typing import Any

from chainrule.backend import may_any
from chainrule.nn.module import Module
from chainrule.operands import as_operand
from chainrule.ops import activation as E
from chainrule.ops.elementwise import where
from chainrule.ops.softmax import implicit_softmax_dim
from chainrule.ops.softmax import log_softmax as _log_softmax
from chainrule.ops.softmax import softmax as _softmax
from chainrule.tensor import Tensor


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); with inplace=True the input itself is changed (and returned)."""
    return as_operand(input).relu_() if inplace else E.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01,
               inplace: bool = False) -> Tensor:
    if inplace:
        return as_operand(input).leaky_relu_(negative_slope)
    return E.leaky_relu(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return as_operand(input).elu_(alpha) if inplace else E.elu(input, alpha)


class ReLU(Module):
    """max(x, 0); inplace=True changes the input itself, as in PyTorch."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return relu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                           else "")


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """x * Phi(x) (approximate='none'), or PyTorch's tanh approximation (approximate='tanh'):
    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        if self.approximate == "none":
            return E.gelu(input)
        x = as_operand(input)
        inner = (x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)
        return x * 0.5 * (E.tanh(inner) + 1.0)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, input: Tensor) -> Tensor:
        return E.sigmoid(input)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, input: Tensor) -> Tensor:
        return E.tanh(input)


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as PyTorch)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        x = as_operand(input)
        y = E.softplus(x, self.beta)
        linear = x.array * self.beta > self.threshold
        return where(linear, x, y) if may_any(linear) else y

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class _SoftmaxBase(Module):
    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """F.softmax: along dim; without one, PyTorch's deprecated implicit choice (dim 0 for 0-,
    1- and 3-d inputs, else 1), with its warning."""
    x = as_operand(input)
    d = implicit_softmax_dim("softmax", x.ndim) if dim is None else dim
    return _softmax(x, d, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:
    """F.log_softmax: along dim (PyTorch's implicit choice without one, as F.softmax)."""
    x = as_operand(input)
    d = implicit_softmax_dim("log_softmax", x.ndim) if dim is None else dim
    return _log_softmax(x, d, dtype)


class Softmax(_SoftmaxBase):
    """exp(x) / sum(exp(x)) along dim. Give dim: without it PyTorch's implicit choice is
    taken (dim 0 for 0-, 1- and 3-d inputs, else 1), with PyTorch's warning."""

    def forward(self, input: Tensor) -> Tensor:
        return softmax(input, self.dim)


class LogSoftmax(_SoftmaxBase):
    """x - logsumexp(x) along dim (give dim; see Softmax for the implicit choice)."""

    def forward(self, input: Tensor) -> Tensor:
        return log_softmax(input, self.dim)

