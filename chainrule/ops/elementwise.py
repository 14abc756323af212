"""Elementwise ops, with NumPy broadcasting (the backward walk sums gradients back to shape).

Every backward is written with Tensor ops, so it is differentiable again. Masks and signs are
constants: their own derivative is zero almost everywhere, which is exactly right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.tensor import Tensor, as_operands


def _bcast(op: str, a: Any, b: Any) -> ShapeError:
    return ShapeError(
        f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast (NumPy rules: "
        "trailing dimensions must be equal or 1); reshape or unsqueeze one operand"
    )


def _const(a: Any, like: Any) -> Tensor:
    """A constant (non-differentiable) tensor in the dtype of `like`."""
    return Tensor._make(a.astype(like.dtype, copy=False), None)


class Scale(Function):
    """y = x * m for a constant array m (a mask, a sign, a slope): the fused backward of the
    piecewise-linear ops; its own backward is itself."""

    def __init__(self, m: Any) -> None:
        self.m = m

    def forward(self, x: Any) -> Any:
        try:
            return x * self.m
        except ValueError:
            raise _bcast("scale", x, self.m) from None

    def backward(self, gy: Tensor) -> Tensor:
        return Scale(self.m)(gy)


# -- arithmetic --------------------------------------------------------------------------------
class Add(Function):
    def forward(self, a: Any, b: Any) -> Any:
        try:
            return a + b
        except ValueError:
            raise _bcast("add", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        return gy, gy


class Sub(Function):
    def forward(self, a: Any, b: Any) -> Any:
        try:
            return a - b
        except ValueError:
            raise _bcast("sub", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        return gy, (-gy if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a: Any, b: Any) -> Any:
        try:
            return a * b
        except ValueError:
            raise _bcast("mul", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        n = self.needs_input_grad
        return (gy * b if n[0] else None), (gy * a if n[1] else None)


class Div(Function):
    def forward(self, a: Any, b: Any) -> Any:
        try:
            return a / b
        except ValueError:
            raise _bcast("div", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        b = self.inputs[1]
        ga = gy / b
        gb = -(ga * self.output) if self.needs_input_grad[1] else None  # d(a/b)/db = -y/b
        return (ga if self.needs_input_grad[0] else None), gb


class Pow(Function):
    def forward(self, a: Any, b: Any) -> Any:
        try:
            return a ** b
        except ValueError:
            raise _bcast("pow", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        n = self.needs_input_grad
        ga = gb = None
        if n[0]:  # b * a**(b-1); where b = 0 it is 0, also at a = 0: take 0 * a**1, not 0 * inf
            zero = b.data == 0
            ga = gy * b * a ** (where(zero, 1.0, b - 1) if zero.any() else b - 1)
        if n[1]:  # y * log(a); at a = 0 (b >= 0) its limit is 0, as in PyTorch: take log(1)
            zero = (a.data == 0) & (b.data >= 0)
            gb = gy * self.output * log(where(zero, 1.0, a) if zero.any() else a)
        return ga, gb


class Neg(Function):
    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, gy: Tensor) -> Tensor:
        return -gy


class Abs(Function):
    def forward(self, x: Any) -> Any:
        return xp_of(x).abs(x)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].data
        return Scale(xp_of(x).sign(x))(gy)


# -- smooth unary functions --------------------------------------------------------------------
class Exp(Function):
    def forward(self, x: Any) -> Any:
        return xp_of(x).exp(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * self.output


class Log(Function):
    def forward(self, x: Any) -> Any:
        return xp_of(x).log(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / self.inputs[0]


class Log1p(Function):
    def forward(self, x: Any) -> Any:
        return xp_of(x).log1p(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / (self.inputs[0] + 1.0)


class Sqrt(Function):
    def forward(self, x: Any) -> Any:
        return xp_of(x).sqrt(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / (self.output * 2.0)


class Sin(Function):
    def forward(self, x: Any) -> Any:
        return xp_of(x).sin(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * cos(self.inputs[0])


class Cos(Function):
    def forward(self, x: Any) -> Any:
        return xp_of(x).cos(x)

    def backward(self, gy: Tensor) -> Tensor:
        return -(gy * sin(self.inputs[0]))


# -- piecewise-linear functions (fused: one pass and a constant mask in backward) ---------------
class Clip(Function):
    def __init__(self, lo: Any, hi: Any) -> None:
        self.lo, self.hi = lo, hi

    def forward(self, x: Any) -> Any:
        return xp_of(x).clip(x, self.lo, self.hi)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].data
        inside = xp_of(x).ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return Scale(inside)(gy)


class Maximum(Function):
    """max(a, b); where a == b the gradient is split evenly (0.5 each), as in PyTorch."""

    sign = 1

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return xp_of(a, b).maximum(a, b) if self.sign > 0 else xp_of(a, b).minimum(a, b)
        except ValueError:
            raise _bcast(self.name.lower(), a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a, b = (t.data for t in self.inputs)
        wins = (a > b) if self.sign > 0 else (a < b)
        wa = (wins + 0.5 * (a == b)).astype(gy.dtype)
        n = self.needs_input_grad
        return (Scale(wa)(gy) if n[0] else None), (Scale(1.0 - wa)(gy) if n[1] else None)


class Minimum(Maximum):
    sign = -1


class Where(Function):
    def __init__(self, cond: Any) -> None:
        self.cond = cond

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return xp_of(a, b).where(self.cond, a, b)
        except ValueError:
            raise ShapeError(
                f"where: condition {tuple(self.cond.shape)}, x {a.shape} and y {b.shape} do not "
                "broadcast together"
            ) from None

    def backward(self, gy: Tensor) -> tuple:
        n = self.needs_input_grad
        ga = Where(self.cond)(gy, 0.0) if n[0] else None
        gb = Where(self.cond)(0.0, gy) if n[1] else None
        return ga, gb


class Cast(Function):
    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def forward(self, x: Any) -> Any:
        return x.astype(self.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        return Cast(self.inputs[0].dtype)(gy)


# -- the public functions ------------------------------------------------------------------------
def add(a: Any, b: Any) -> Tensor: return Add()(a, b)
def sub(a: Any, b: Any) -> Tensor: return Sub()(a, b)
def mul(a: Any, b: Any) -> Tensor: return Mul()(a, b)
def div(a: Any, b: Any) -> Tensor: return Div()(a, b)
def pow(a: Any, b: Any) -> Tensor: return Pow()(a, b)  # noqa: A001 (NumPy's and torch's name)
def neg(x: Any) -> Tensor: return Neg()(x)
def abs(x: Any) -> Tensor: return Abs()(x)  # noqa: A001
def exp(x: Any) -> Tensor: return Exp()(x)
def log(x: Any) -> Tensor: return Log()(x)
def log1p(x: Any) -> Tensor: return Log1p()(x)
def sqrt(x: Any) -> Tensor: return Sqrt()(x)
def sin(x: Any) -> Tensor: return Sin()(x)
def cos(x: Any) -> Tensor: return Cos()(x)
def maximum(a: Any, b: Any) -> Tensor: return Maximum()(a, b)
def minimum(a: Any, b: Any) -> Tensor: return Minimum()(a, b)


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 (NumPy's names)
    """Clamp into [min, max]; the gradient is 1 inside (bounds included) and 0 outside."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min {min} is greater than max {max}")
    return Clip(min, max)(x)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """Elements of x where condition holds, else of y; gradients go to the chosen side."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    return Where(cond.astype(bool, copy=False))(x, y)


def astype(x: Tensor, dtype: Any) -> Tensor:
    from chainrule.backend import as_dtype

    dt = as_dtype(dtype)
    if x.dtype == dt:
        return x
    return Cast(dt)(x)


def _compare(ufunc_name: str) -> Any:
    def compare(a: Any, b: Any) -> Tensor:
        a, b = as_operands((a, b))
        try:
            out = getattr(xp_of(a.data, b.data), ufunc_name)(a.data, b.data)
        except ValueError:
            raise _bcast(ufunc_name, a, b) from None
        return Tensor._make(out, None)

    compare.__name__ = ufunc_name
    compare.__doc__ = f"Elementwise {ufunc_name} as a bool tensor (not differentiable)."
    return compare


less = _compare("less")
less_equal = _compare("less_equal")
greater = _compare("greater")
greater_equal = _compare("greater_equal")
equal = _compare("equal")
not_equal = _compare("not_equal")
