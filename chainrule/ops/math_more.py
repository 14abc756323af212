"""More of PyTorch's elementwise math: logit, xlogy, the gamma family (lgamma, digamma,
polygamma), sinc, deg2rad / rad2deg, frac, ldexp, the NaN-ignoring fmax / fmin, copysign,
positive and rsub, and the integer and step functions gcd, lcm and heaviside (not
differentiable, as in PyTorch).

Each backward is PyTorch's formula (derivatives.yaml) written with Tensor ops, so it can be
differentiated again; integer inputs compute in the default float dtype where PyTorch does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import may_any, xp_of
from chainrule.operands import as_operand, promoted
from chainrule.ops.elementwise import (
    Scale,
    _bcast,
    _floating,
    clamp,
    div,
    log,
    mul,
    sin,
    sub,
    where,
)
from chainrule.ops.gamma_kernels import lgamma_array, polygamma_array
from chainrule.ops.indexing import NotDifferentiable
from chainrule.ops.pointwise import exp2, trunc
from chainrule.tensor import Tensor


def _no_ints(op: str, x: Tensor, kernel: str | None = None) -> None:
    if x.array.dtype.kind in "iub":
        raise NotImplementedError(f'"{kernel or op}_cpu" not implemented for '
                                  f"'{_torch_kind(x.array.dtype)}': {op} takes floating "
                                  "tensors; convert first: x.float()")


def _torch_kind(d: Any) -> str:
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool", "float32": "Float", "float64": "Double"}.get(np.dtype(d).name,
                                                                         str(d))


def _tensors(op: str, input: Any, other: Any, what: str = "other") -> None:
    """PyTorch's TypeError for a Python number where its signature takes only tensors."""
    for pos, (name, v) in enumerate((("input", input), (what, other)), start=1):
        if not isinstance(v, Tensor):
            raise TypeError(f"{op}(): argument '{name}' (position {pos}) must be Tensor, not "
                            f"{type(v).__name__}")


# -- logit, xlogy --------------------------------------------------------------------------------
def logit(input: Any, eps: float | None = None) -> Tensor:
    """log(x / (1 - x)); with eps, x is first clamped to [eps, 1 - eps] (so the gradient is 0
    outside; a negative eps means none, as in PyTorch)."""
    x = _floating(input)
    if eps is not None and eps >= 0:
        x = clamp(x, eps, 1.0 - eps)
    return log(div(x, sub(1.0, x)))


class XLogY(Function):
    """x * log(y), 0 where x == 0 (unless y is NaN). Gradients (PyTorch's): xlogy(g, y) for x,
    zeroed where x == 0 and y <= 0 (there x * log(y) is 0 on one side only); g x / y for y."""

    saves = "inputs"

    def forward(self, x: Any, y: Any) -> Any:
        xp = xp_of(x, y)
        try:
            with np.errstate(divide="ignore", invalid="ignore"):
                r = x * xp.log(y)
            return xp.where((x == 0) & ~xp.isnan(y), xp.zeros((), r.dtype), r)
        except ValueError:
            raise _bcast("xlogy", x, y) from None

    def backward(self, gy: Tensor) -> tuple:
        x, y = self.inputs
        n = self.needs_input_grad
        gx = gyy = None
        if n[0]:
            gx = XLogY()(*promoted(gy, y))
            cut = (x.array == 0) & (y.array <= 0)
            if may_any(cut):  # a where, not a product: there gx may be -inf (log 0) or NaN
                gx = where(xp_of(cut).broadcast_to(cut, gx.shape), 0.0, gx)
        if n[1]:
            gyy = gy * x / y
        return gx, gyy


def xlogy(input: Any, other: Any) -> Tensor:
    """input * log(other), and 0 where input == 0 even if other is 0 (NaN other stays NaN);
    either may be a number; integers compute in the default float dtype."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("xlogy(): at least one of input and other must be a Tensor")
    x, y = promoted(input, other)
    if x.array.dtype.kind in "iub":
        x, y = _floating(x), _floating(y)
    return XLogY()(x, y)


# -- the gamma family ----------------------------------------------------------------------------
class Polygamma(Function):
    """The n-th derivative of digamma (n = 0: digamma itself); its gradient is polygamma(n + 1)
    and, for n = -1 (our lgamma), digamma."""

    saves = "0"

    def __init__(self, n: int) -> None:
        self.n = n

    def forward(self, x: Any) -> Any:
        return lgamma_array(x) if self.n < 0 else polygamma_array(self.n, x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * Polygamma(self.n + 1)(self.inputs[0])


def lgamma(input: Any) -> Tensor:
    """log|Gamma(x)| (inf at 0 and the negative integers); its gradient is digamma(x)."""
    return Polygamma(-1)(_floating(input))


def digamma(input: Any) -> Tensor:
    """d/dx log Gamma(x) (-inf at +0, inf at -0, NaN at the negative integers)."""
    return Polygamma(0)(_floating(input))


def polygamma(n: int, input: Any) -> Tensor:
    """The n-th derivative of digamma (n >= 0), as torch.polygamma(n, input)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma(int(n))(_floating(input))


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    """x.polygamma(n) is polygamma(n, x) (the method takes n after self)."""
    return polygamma(n, self)


# -- sinc, angles, fractional part, ldexp --------------------------------------------------------
def sinc(input: Any) -> Tensor:
    """sin(pi x) / (pi x), 1 at 0 (where the gradient is 0, as in PyTorch)."""
    x = _floating(input)
    zero = x.array == 0
    if not may_any(zero):
        px = mul(x, math.pi)
        return div(sin(px), px)
    safe = mul(where(zero, 1.0, x), math.pi)
    return where(zero, 1.0, div(sin(safe), safe))


def deg2rad(input: Any) -> Tensor:
    """Degrees to radians (integers give the default float dtype)."""
    return mul(_floating(input), math.pi / 180.0)


def rad2deg(input: Any) -> Tensor:
    """Radians to degrees (integers give the default float dtype)."""
    return mul(_floating(input), 180.0 / math.pi)


def frac(input: Any) -> Tensor:
    """x - trunc(x) (the sign follows x); floating tensors only; the gradient is 1."""
    x = as_operand(input)
    _no_ints("frac", x)
    return sub(x, trunc(x))


def ldexp(input: Any, other: Any) -> Tensor:
    """input * 2 ** other, both tensors (integers give the default float dtype)."""
    _tensors("ldexp", input, other)
    return mul(input, exp2(other))


# -- fmax, fmin, copysign ------------------------------------------------------------------------
class FMax(Function):
    """The elementwise maximum (minimum with sign -1) ignoring NaN: a NaN operand gives the other
    one. The gradient goes to input where input >= other or other is NaN, else to other (ties
    go to input, as in PyTorch)."""

    saves = "inputs"
    sign = 1

    def forward(self, a: Any, b: Any) -> Any:
        xp = xp_of(a, b)
        try:
            return xp.fmax(a, b) if self.sign > 0 else xp.fmin(a, b)
        except ValueError:
            raise _bcast("fmax" if self.sign > 0 else "fmin", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a, b = (t.array for t in self.inputs)
        xp = xp_of(a, b)
        first = ((a >= b) if self.sign > 0 else (a <= b)) | xp.isnan(b)
        first = xp.broadcast_to(first, gy.array.shape)
        n = self.needs_input_grad
        return (Scale(first)(gy) if n[0] else None), (Scale(~first)(gy) if n[1] else None)


class FMin(FMax):
    sign = -1


def fmax(input: Any, other: Any) -> Tensor:
    """The elementwise maximum, where a NaN loses to a number (both NaN: NaN)."""
    _tensors("fmax", input, other)
    return FMax()(*promoted(input, other))


def fmin(input: Any, other: Any) -> Tensor:
    """The elementwise minimum, where a NaN loses to a number (both NaN: NaN)."""
    _tensors("fmin", input, other)
    return FMin()(*promoted(input, other))


class CopySign(Function):
    """|a| with the sign of b (signed zeros count). The gradient of a is +-1 (0 where a == 0);
    b gets a zero gradient, as in PyTorch."""

    saves = "0 out"

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return xp_of(a, b).copysign(a, b)
        except ValueError:
            raise _bcast("copysign", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a = self.inputs[0].array
        xp = xp_of(a)
        n = self.needs_input_grad
        ga = gb = None
        if n[0]:
            y = self.output.array
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = xp.where(a == 0, 0, y / xp.where(a == 0, 1, a)).astype(gy.array.dtype)
            ga = Scale(xp.broadcast_to(ratio, gy.array.shape))(gy)
        if n[1]:
            gb = Tensor._make(xp.zeros(gy.array.shape, gy.array.dtype), None)
        return ga, gb


def copysign(input: Any, other: Any) -> Tensor:
    """|input| with the sign of other (a tensor or a number); integers give floats."""
    if not isinstance(input, Tensor):
        raise TypeError(f"copysign(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    a, b = promoted(input, other)
    if a.array.dtype.kind in "iub":
        a, b = _floating(a), _floating(b)
    return CopySign()(a, b)


# -- positive, rsub ------------------------------------------------------------------------------
def positive(input: Any) -> Tensor:
    """input itself (PyTorch's unary plus); refused for bool tensors."""
    x = as_operand(input)
    if x.array.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return x


def rsub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """other - alpha * input (subtraction with the operands reversed)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return sub(other, input, alpha=alpha)


# -- integer and step functions (not differentiable) ---------------------------------------------
def _integer_pair(op: str, input: Any, other: Any) -> tuple[Tensor, Tensor]:
    _tensors(op, input, other)
    a, b = promoted(input, other)
    if a.array.dtype.kind not in "iu" or a.array.dtype == np.bool_:
        raise NotImplementedError(f'"{op}_cpu" not implemented for '
                                  f"'{_torch_kind(a.array.dtype)}': {op} takes integer tensors")
    return a, b


def gcd(input: Any, other: Any) -> Tensor:
    """The greatest common divisor, elementwise (non-negative; gcd(0, 0) = 0)."""
    a, b = _integer_pair("gcd", input, other)
    return Tensor._make(xp_of(a.array).gcd(a.array, b.array), None)


def lcm(input: Any, other: Any) -> Tensor:
    """The least common multiple, elementwise (non-negative; 0 if either is 0)."""
    a, b = _integer_pair("lcm", input, other)
    return Tensor._make(xp_of(a.array).lcm(a.array, b.array), None)


def heaviside(input: Any, values: Any) -> Tensor:
    """0 where input < 0 (and where it is NaN), values where input == 0, 1 where input > 0.
    input and values must have one dtype; not differentiable (a backward raises)."""
    _tensors("heaviside", input, values, "values")
    if input.array.dtype != values.array.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    a, v = input.array, values.array
    xp = xp_of(a, v)
    try:
        y = xp.where(a == 0, v, (a > 0).astype(a.dtype))
    except ValueError:
        raise _bcast("heaviside", a, v) from None
    y = y.astype(a.dtype, copy=False)
    if input.requires_grad or values.requires_grad:
        return NotDifferentiable("heaviside", y)(input, values)
    return Tensor._make(y, None)
