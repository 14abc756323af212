"""PyTorch's other pointwise functions: the rounding family (floor, ceil, round, trunc, sign,
whose gradient is zero), remainder and fmod, floor_divide (not differentiable, as in PyTorch),
reciprocal and expm1 (fused for accuracy), and the composites lerp, addcmul, addcdiv, square,
rsqrt, exp2, log2, log10, tan, float_power."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.modes import no_grad as _no_grad
from chainrule.operands import as_operand, promoted
from chainrule.ops.elementwise import (
    Piecewise,
    Scale,
    _bcast,
    _floating,
    _no_int_zero,
    add,
    astype,
    cos,
    div,
    log,
    mul,
    sin,
    sqrt,
    sub,
)
from chainrule.ops.elementwise import pow as _pow
from chainrule.tensor import Tensor


class Remainder(Function):
    """a - q * b with q = floor(a / b) (Python's %, PyTorch's remainder) or trunc(a / b) (C's
    fmod); the gradient is 1 for a and -q for b, as in PyTorch."""

    saves = "inputs"

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def forward(self, a: Any, b: Any) -> Any:
        xp = xp_of(a, b)
        try:
            return xp.remainder(a, b) if self.kind == "floor" else xp.fmod(a, b)
        except ValueError:
            raise _bcast("remainder", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        n = self.needs_input_grad
        gb = None
        if n[1]:
            q = xp_of(a.array).floor(a.array / b.array) if self.kind == "floor" else \
                xp_of(a.array).trunc(a.array / b.array)
            gb = -Scale(q.astype(gy.array.dtype, copy=False))(gy)
        return (gy if n[0] else None), gb


class Expm1(Function):
    """exp(x) - 1, exact for small x (fused for accuracy)."""

    saves = "out"

    def forward(self, x: Any) -> Any:
        return xp_of(x).expm1(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * (self.output + 1.0)


class NoDerivative(Function):
    """The result of an op PyTorch does not differentiate (floor_divide): it is recorded, and a
    backward through it raises PyTorch's error."""

    saves = ""

    def __init__(self, op: str, y: Any) -> None:
        self.op, self.y = op, y

    def forward(self, *xs: Any) -> Any:
        return self.y

    def backward(self, gy: Tensor) -> Any:
        raise RuntimeError(f"the derivative for '{self.op}' is not implemented (as in "
                           f"PyTorch); use div(a, b, rounding_mode='floor'), whose gradient is "
                           "zero, or detach() the result")


def floor_divide(input: Any, other: Any) -> Tensor:
    """input // other, rounded toward minus infinity (Python's //); not differentiable."""
    a, b = promoted(input, other)
    with _no_grad():
        y = div(a, b, rounding_mode="floor")
    return NoDerivative("floor_divide", y.array)(a, b)


def remainder(input: Any, other: Any) -> Tensor:
    """Python's %: the result takes the sign of the divisor."""
    a, b = promoted(input, other)
    _no_int_zero("remainder", b)
    return Remainder("floor")(a, b)


def fmod(input: Any, other: Any) -> Tensor:
    """C's fmod: the result takes the sign of the dividend."""
    a, b = promoted(input, other)
    _no_int_zero("fmod", b)
    return Remainder("trunc")(a, b)


def float_power(input: Any, exponent: Any) -> Tensor:
    """pow in float64 (complex128 for complex operands), as PyTorch's float_power."""
    a, b = promoted(input, exponent)
    dt = np.complex128 if a.array.dtype.kind == "c" else np.float64
    return _pow(astype(a, dt), astype(b, dt))


def _piecewise(fn_name: str) -> Any:
    def op(input: Any) -> Tensor:
        x = as_operand(input)
        if x.array.dtype.kind in "iub" and (fn_name != "sign" or x.array.dtype == bool):
            return Tensor._make(x.array.copy(), None)  # already integral (sign of a bool: itself)
        f = getattr(xp_of(x.array), fn_name)
        return Piecewise(lambda a: f(a).astype(a.dtype, copy=False))(x)

    op.__name__ = fn_name
    op.__doc__ = f"Elementwise {fn_name} (its gradient is zero, as in PyTorch)."
    return op


floor = _piecewise("floor")


ceil = _piecewise("ceil")


trunc = _piecewise("trunc")


sign = _piecewise("sign")


fix = trunc


def round(input: Any, *, decimals: int = 0) -> Tensor:
    """Round half to even (as PyTorch and NumPy); the gradient is zero."""
    x = as_operand(input)
    if x.array.dtype.kind in "iub":
        return x
    return Piecewise(lambda a: xp_of(a).round(a, decimals))(x)


def lerp(input: Any, end: Any, weight: Any) -> Tensor:
    """input + weight * (end - input)."""
    return add(input, mul(weight, sub(end, input)))


def square(input: Any) -> Tensor:
    x = as_operand(input)
    return mul(x, x)


def rsqrt(input: Any) -> Tensor:
    return reciprocal(sqrt(input))


class Reciprocal(Function):
    saves = "out"

    def forward(self, x: Any) -> Any:
        return 1 / x

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output
        return -(gy * y * y)


def reciprocal(input: Any) -> Tensor:
    """1 / input; a number divided by a tensor (2 / x) is reciprocal(x) * 2, as in PyTorch."""
    return Reciprocal()(_floating(input))


def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """input + value * tensor1 * tensor2."""
    return add(input, mul(tensor1, tensor2), alpha=value)


def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """input + value * tensor1 / tensor2."""
    return add(input, div(tensor1, tensor2), alpha=value)


def exp2(input: Any) -> Tensor:
    return _pow(2.0, _floating(input))


def expm1(input: Any) -> Tensor:
    return Expm1()(_floating(input))


def log2(input: Any) -> Tensor:
    return div(log(input), float(np.log(2.0)))


def log10(input: Any) -> Tensor:
    return div(log(input), float(np.log(10.0)))


def tan(input: Any) -> Tensor:
    x = _floating(input)
    return div(sin(x), cos(x))
