"""Activation functions: tanh, sigmoid, softplus, GELU (through the normal CDF) and the
piecewise-linear ReLU family, each with a backward written in Tensor ops (the hot ones fused
into one gradient op each)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import scipy_special, xp_of
from chainrule.operands import as_operand
from chainrule.ops.elementwise import Scale, _floating, exp, where
from chainrule.tensor import Tensor

try:  # optional speed-up only: the core needs NumPy alone
    from scipy.special import erf as _erf_fast
except ImportError:  # pragma: no cover - depends on the environment
    _erf_fast = None



class Tanh(Function):
    saves = "out"

    def forward(self, x: Any) -> Any:
        return xp_of(x).tanh(x)

    def backward(self, gy: Tensor) -> Tensor:
        return TanhGrad()(gy, self.output)


class TanhGrad(Function):
    """gy * (1 - y^2) in one pass (fused for speed: tanh sits in hot loops); differentiable in
    both gy and y, so tanh keeps its higher derivatives."""

    saves = "inputs"

    def forward(self, gy: Any, y: Any) -> Any:
        return gy * (1 - y * y)

    def backward(self, g: Tensor) -> tuple:
        gy, y = self.inputs
        n = self.needs_input_grad
        return (TanhGrad()(g, y) if n[0] else None), (g * gy * y * -2.0 if n[1] else None)


class Sigmoid(Function):
    saves = "out"

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        e = xp.exp(-xp.abs(x))  # never overflows; both branches are exact in their half
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        return SigmoidGrad()(gy, self.output)


class SigmoidGrad(Function):
    """gy * y * (1 - y) in one pass (fused for speed), differentiable in both gy and y."""

    saves = "inputs"

    def forward(self, gy: Any, y: Any) -> Any:
        return gy * (y * (1 - y))

    def backward(self, g: Tensor) -> tuple:
        gy, y = self.inputs
        n = self.needs_input_grad
        return ((SigmoidGrad()(g, y) if n[0] else None),
                (g * gy * (1.0 - y * 2.0) if n[1] else None))


class Softplus(Function):
    saves = "0"

    def __init__(self, beta: float) -> None:
        self.beta = beta

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        return (xp.logaddexp(0, self.beta * x) / self.beta).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * sigmoid(self.inputs[0] * self.beta)


def _erf(x: Any) -> Any:
    if _erf_fast is not None and xp_of(x) is np:
        return _erf_fast(x)
    if xp_of(x) is not np:
        return scipy_special(xp_of(x)).erf(x)
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype, copy=False)


class NormalCdf(Function):
    """Phi(x), the standard normal CDF, the smooth gate inside GELU."""

    saves = "0"

    def forward(self, x: Any) -> Any:
        return (0.5 * (1.0 + _erf(x * (1 / math.sqrt(2.0))))).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        return gy * exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))


# -- piecewise-linear functions (fused: one pass and a constant mask in backward) ---------------
class Relu(Function):
    saves = "out"

    def forward(self, x: Any) -> Any:
        return xp_of(x).maximum(x, 0)

    def backward(self, gy: Tensor) -> Tensor:
        return Scale(self.output.array > 0)(gy)  # the output, as PyTorch saves it


class LeakyRelu(Function):
    saves = "0"

    def __init__(self, slope: float) -> None:
        self.slope = slope

    def forward(self, x: Any) -> Any:
        return xp_of(x).where(x > 0, x, x * x.dtype.type(self.slope))

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].array
        return Scale(xp_of(x).where(x > 0, 1.0, self.slope).astype(x.dtype))(gy)


class Elu(Function):
    saves = "0 out"

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        neg = self.alpha * xp.expm1(xp.minimum(x, 0))
        return xp.where(x > 0, x, neg).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        # elu'(x) = 1 for x > 0, else alpha * e^x = y + alpha (differentiable through y)
        return where(self.inputs[0].array > 0, gy, gy * (self.output + self.alpha))


# -- the public functions ------------------------------------------------------------------------
def tanh(input: Any) -> Tensor: return Tanh()(_floating(input))
def sigmoid(input: Any) -> Tensor: return Sigmoid()(_floating(input))
def relu(input: Any) -> Tensor: return Relu()(as_operand(input))
def normal_cdf(input: Any) -> Tensor: return NormalCdf()(_floating(input))


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Tensor:
    return LeakyRelu(negative_slope)(as_operand(input))


def elu(input: Any, alpha: float = 1.0) -> Tensor:
    return Elu(alpha)(_floating(input))


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, computed without overflow (PyTorch switches to x above
    `threshold`; the exact form differs from that by under exp(-threshold))."""
    return Softplus(beta)(_floating(input))


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """GELU: x * Phi(x) (approximate='none', PyTorch's default), or its tanh approximation
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) with approximate='tanh'."""
    x = _floating(input)
    if approximate == "none":
        return x * normal_cdf(x)
    if approximate != "tanh":
        raise RuntimeError(f"approximate argument must be either none or tanh, got "
                           f"{approximate!r}")
    inner = (x + x * x * x * 0.044715) * math.sqrt(2.0 / math.pi)
    return x * 0.5 * (tanh(inner) + 1.0)
