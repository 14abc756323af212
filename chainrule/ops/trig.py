"""Trigonometric and hyperbolic functions and their inverses (sinh, cosh, asin, acos, atan,
asinh, acosh, atanh, with PyTorch's arc* aliases), atan2 and hypot.

Integer inputs compute in the default float dtype, as in PyTorch. Each backward is PyTorch's
formula written with Tensor ops (differentiable again), reading only what PyTorch saves.
"""

from __future__ import annotations

from typing import Any

from chainrule.autograd import Function
from chainrule.backend import xp_of
from chainrule.operands import promoted
from chainrule.ops.elementwise import _bcast, _floating
from chainrule.ops.pointwise import rsqrt
from chainrule.tensor import Tensor


class _Unary(Function):
    """y = fn(x) for a NumPy ufunc named by `fn`; subclasses give the derivative."""

    saves = "0"
    fn = ""

    def forward(self, x: Any) -> Any:
        return getattr(xp_of(x), self.fn)(x)


class Sinh(_Unary):
    fn = "sinh"

    def backward(self, gy: Tensor) -> Tensor:
        return gy * cosh(self.inputs[0])


class Cosh(_Unary):
    fn = "cosh"

    def backward(self, gy: Tensor) -> Tensor:
        return gy * sinh(self.inputs[0])


class Asin(_Unary):
    fn = "arcsin"

    def backward(self, gy: Tensor) -> Tensor:  # 1 / sqrt(1 - x^2)
        x = self.inputs[0]
        return gy * rsqrt(1.0 - x * x)


class Acos(_Unary):
    fn = "arccos"

    def backward(self, gy: Tensor) -> Tensor:  # -1 / sqrt(1 - x^2)
        x = self.inputs[0]
        return -(gy * rsqrt(1.0 - x * x))


class Atan(_Unary):
    fn = "arctan"

    def backward(self, gy: Tensor) -> Tensor:  # 1 / (1 + x^2)
        x = self.inputs[0]
        return gy / (x * x + 1.0)


class Asinh(_Unary):
    fn = "arcsinh"

    def backward(self, gy: Tensor) -> Tensor:  # 1 / sqrt(x^2 + 1)
        x = self.inputs[0]
        return gy * rsqrt(x * x + 1.0)


class Acosh(_Unary):
    fn = "arccosh"

    def backward(self, gy: Tensor) -> Tensor:  # 1 / sqrt(x^2 - 1)
        x = self.inputs[0]
        return gy * rsqrt(x * x - 1.0)


class Atanh(_Unary):
    fn = "arctanh"

    def backward(self, gy: Tensor) -> Tensor:  # 1 / (1 - x^2)
        x = self.inputs[0]
        return gy / (1.0 - x * x)


class Atan2(Function):
    """The angle of the point (other, input); d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)."""

    saves = "inputs"

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return xp_of(a, b).arctan2(a, b)
        except ValueError:
            raise _bcast("atan2", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        n = self.needs_input_grad
        g = gy / (a * a + b * b)
        return (g * b if n[0] else None), (-(g * a) if n[1] else None)


class Hypot(Function):
    """sqrt(a^2 + b^2) without overflow; d/da = a / result, d/db = b / result."""

    saves = "inputs out"

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return xp_of(a, b).hypot(a, b)
        except ValueError:
            raise _bcast("hypot", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        n = self.needs_input_grad
        g = gy / self.output
        return (g * a if n[0] else None), (g * b if n[1] else None)


# -- the public functions ------------------------------------------------------------------------
def sinh(input: Any) -> Tensor: return Sinh()(_floating(input))
def cosh(input: Any) -> Tensor: return Cosh()(_floating(input))
def asin(input: Any) -> Tensor: return Asin()(_floating(input))
def acos(input: Any) -> Tensor: return Acos()(_floating(input))
def atan(input: Any) -> Tensor: return Atan()(_floating(input))
def asinh(input: Any) -> Tensor: return Asinh()(_floating(input))
def acosh(input: Any) -> Tensor: return Acosh()(_floating(input))
def atanh(input: Any) -> Tensor: return Atanh()(_floating(input))


arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh


def _float_pair(input: Any, other: Any) -> tuple[Tensor, Tensor]:
    """Both operands in their promoted dtype, integers as the default float (PyTorch's rule for
    functions like atan2)."""
    a, b = promoted(input, other)
    if a.array.dtype.kind in "iub":
        a, b = _floating(a), _floating(b)
    return a, b


def atan2(input: Any, other: Any) -> Tensor:
    """The angle of the point (other, input) in (-pi, pi], elementwise with broadcasting."""
    return Atan2()(*_float_pair(input, other))


arctan2 = atan2


def hypot(input: Any, other: Any) -> Tensor:
    """sqrt(input^2 + other^2), elementwise with broadcasting (floating tensors only, as in
    PyTorch)."""
    a, b = promoted(input, other)
    if a.array.dtype.kind in "iub":
        raise NotImplementedError(f'"hypot_cpu" not implemented for {a.dtype}: hypot takes '
                                  "floating tensors; convert first: x.float()")
    return Hypot()(a, b)
