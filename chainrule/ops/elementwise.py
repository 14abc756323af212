"""Elementwise arithmetic and math, with broadcasting (the backward walk sums gradients back to
shape) and PyTorch's type promotion (a float32 tensor times an int64 tensor stays float32).

Every backward is written with Tensor ops, so it is differentiable again. Masks and signs are
constants: their own derivative is zero almost everywhere, which is exactly right.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import host_any, is_device_array, may_any, xp_of
from chainrule.dtypes import as_numpy_dtype, default_float
from chainrule.errors import ShapeError
from chainrule.modes import is_grad_enabled as _grad_enabled
from chainrule.operands import as_operand, promoted
from chainrule.tensor import Tensor


def _bcast(op: str, a: Any, b: Any) -> ShapeError:
    return ShapeError(
        f"{op}: The size of tensor a {tuple(a.shape)} must match the size of tensor b "
        f"{tuple(b.shape)} where they differ and neither is 1 (broadcasting counts dimensions "
        "from the right); reshape or unsqueeze one operand"
    )


class Scale(Function):
    """y = x * m for a constant array m (a mask, a sign, a slope): the fused backward of the
    piecewise-linear ops; its own backward is itself."""

    saves = ""

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
    saves = ""

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return a + b
        except ValueError:
            raise _bcast("add", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        return gy, gy


class Sub(Function):
    saves = ""

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return a - b
        except ValueError:
            raise _bcast("sub", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        return gy, (-gy if self.needs_input_grad[1] else None)


class Mul(Function):
    saves = "cross"

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
    saves = "1 cross"

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return a / b
        except ValueError:
            raise _bcast("div", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        n = self.needs_input_grad
        if not _grad_enabled():  # plain backward: the same formulas on arrays, fewer nodes
            ga_ = gy.array / b.array
            gb_ = -(ga_ * a.array / b.array) if n[1] else None
            return (Tensor._make(ga_, None) if n[0] else None), (
                None if gb_ is None else Tensor._make(gb_, None))
        ga = gy / b
        gb = -(ga * a / b) if n[1] else None  # d(a/b)/db = -a/b^2
        return (ga if n[0] else None), gb


class Pow(Function):
    saves = "inputs out"

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return a ** b
        except ValueError as e:
            if "negative integer powers" in str(e):
                raise RuntimeError("pow: Integers to negative integer powers are not allowed; "
                                   "use a float base: x.float() ** -1") from None
            raise _bcast("pow", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        n = self.needs_input_grad
        ga = gb = None
        if n[0]:  # b * a**(b-1); where b = 0 it is 0, also at a = 0: take 0 * a**1, not 0 * inf
            zero = b.array == 0
            ga = gy * b * a ** (where(zero, 1.0, b - 1) if may_any(zero) else b - 1)
        if n[1]:  # y * log(a); at a = 0 (b >= 0) its limit is 0, as in PyTorch: take log(1)
            zero = (a.array == 0) & (b.array >= 0)
            gb = gy * self.output * log(where(zero, 1.0, a) if may_any(zero) else a)
        return ga, gb


class Neg(Function):
    saves = ""

    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, gy: Tensor) -> Tensor:
        return -gy


class Abs(Function):
    saves = "0"

    def forward(self, x: Any) -> Any:
        return xp_of(x).abs(x)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].array
        return Scale(xp_of(x).sign(x))(gy)


class Piecewise(Function):
    """A function whose derivative is 0 wherever it exists (floor, ceil, round, trunc, sign,
    rounded division): the output requires grad, its gradient is zero, as in PyTorch."""

    saves = ""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def forward(self, *xs: Any) -> Any:
        return self.fn(*xs)

    def backward(self, gy: Tensor) -> tuple:
        xp = xp_of(gy.array)
        return tuple(Tensor._make(xp.zeros(x.array.shape, gy.array.dtype), None) if need
                     else None for x, need in zip(self.inputs, self.needs_input_grad))


# -- smooth unary functions --------------------------------------------------------------------
class Exp(Function):
    saves = "out"

    def forward(self, x: Any) -> Any:
        return xp_of(x).exp(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * self.output


class Log(Function):
    saves = "0"

    def forward(self, x: Any) -> Any:
        return xp_of(x).log(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / self.inputs[0]


class Log1p(Function):
    saves = "0"

    def forward(self, x: Any) -> Any:
        return xp_of(x).log1p(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / (self.inputs[0] + 1.0)


class Sqrt(Function):
    saves = "out"

    def forward(self, x: Any) -> Any:
        return xp_of(x).sqrt(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / (self.output * 2.0)


class Sin(Function):
    saves = "0"

    def forward(self, x: Any) -> Any:
        return xp_of(x).sin(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * cos(self.inputs[0])


class Cos(Function):
    saves = "0"

    def forward(self, x: Any) -> Any:
        return xp_of(x).cos(x)

    def backward(self, gy: Tensor) -> Tensor:
        return -(gy * sin(self.inputs[0]))


# -- piecewise-linear functions (fused: one pass and a constant mask in backward) ---------------
class Clip(Function):
    saves = "0"

    def __init__(self, lo: Any, hi: Any) -> None:
        self.lo, self.hi = lo, hi

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        y = xp.clip(x, self.lo, self.hi)
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            y[...] = self.hi  # PyTorch: min > max sets every element to max
        return y.astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].array
        inside = xp_of(x).ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return Scale(inside)(gy)


class Maximum(Function):
    """max(a, b); where a == b the gradient is split evenly (0.5 each), as in PyTorch."""

    saves = "inputs"
    sign = 1

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return xp_of(a, b).maximum(a, b) if self.sign > 0 else xp_of(a, b).minimum(a, b)
        except ValueError:
            raise _bcast(self.name.lower(), a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a, b = (t.array for t in self.inputs)
        wins = (a > b) if self.sign > 0 else (a < b)
        wa = (wins + 0.5 * (a == b)).astype(gy.array.dtype)
        n = self.needs_input_grad
        return (Scale(wa)(gy) if n[0] else None), (Scale(1.0 - wa)(gy) if n[1] else None)


class Minimum(Maximum):
    sign = -1


class ClampBy(Function):
    """clamp(x, min, max) with tensor bounds (either may be absent): min(max(x, lo), hi). As
    PyTorch: x's gradient flows where lo <= x <= hi (ties included); lo's where x < lo < hi;
    hi's where x > hi or hi < lo (then the output is hi everywhere)."""

    saves = "inputs"

    def __init__(self, has_lo: bool, has_hi: bool) -> None:
        self.has_lo, self.has_hi = has_lo, has_hi

    def _bounds(self, arrays: Any) -> tuple[Any, Any]:
        rest = list(arrays[1:])
        lo = rest.pop(0) if self.has_lo else None
        return lo, (rest.pop(0) if self.has_hi else None)

    def forward(self, x: Any, *bounds: Any) -> Any:
        xp, (lo, hi) = xp_of(x, *bounds), self._bounds((x, *bounds))
        try:
            y = x if lo is None else xp.maximum(x, lo)
            return y if hi is None else xp.minimum(y, hi)
        except ValueError:
            raise ShapeError(
                f"clamp: input {x.shape} and bounds {[b.shape for b in bounds]} do not "
                "broadcast together; reshape or unsqueeze the bounds") from None

    def backward(self, gy: Tensor) -> tuple:
        arrays = [t.array for t in self.inputs]
        x, (lo, hi) = arrays[0], self._bounds(arrays)
        dt = gy.array.dtype
        inside = True if lo is None else x >= lo
        inside = inside & (x <= hi) if hi is not None else inside
        grads = [Scale(xp_of(x).asarray(inside, dtype=dt))(gy)]
        if lo is not None:
            low = (x < lo) if hi is None else (x < lo) & (lo < hi)
            grads.append(Scale(low.astype(dt))(gy))
        if hi is not None:
            high = (x > hi) if lo is None else (x > hi) | (hi < lo)
            grads.append(Scale(high.astype(dt))(gy))
        return tuple(g if need else None for g, need in zip(grads, self.needs_input_grad))


class Where(Function):
    saves = ""

    def __init__(self, cond: Any) -> None:
        self.cond = cond

    def forward(self, a: Any, b: Any) -> Any:
        try:
            return xp_of(a, b).where(self.cond, a, b)
        except ValueError:
            raise ShapeError(
                f"where: condition {tuple(self.cond.shape)}, input {a.shape} and other {b.shape} "
                "do not broadcast together"
            ) from None

    def backward(self, gy: Tensor) -> tuple:
        n = self.needs_input_grad
        zero = Tensor._make(xp_of(gy.array).zeros((), gy.array.dtype), None)
        ga = Where(self.cond)(gy, zero) if n[0] else None
        gb = Where(self.cond)(zero, gy) if n[1] else None
        return ga, gb


class Cast(Function):
    saves = ""

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def forward(self, x: Any) -> Any:
        return x.astype(self.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        return Cast(self.inputs[0].array.dtype)(gy)


# -- the public functions ------------------------------------------------------------------------
def _scaled(b: Any, alpha: Any) -> Any:
    return b if alpha == 1 else b * alpha


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input + alpha * other."""
    return Add()(*promoted(input, _scaled(other, alpha)))


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input - alpha * other."""
    if isinstance(input, Tensor) and input.array.dtype == bool:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    return Sub()(*promoted(input, _scaled(other, alpha)))


def mul(input: Any, other: Any) -> Tensor:
    return Mul()(*promoted(input, other))


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give the default float dtype), or with rounding_mode 'trunc'
    or 'floor' the rounded quotient (integers stay integers; the gradient is zero)."""
    a, b = promoted(input, other)
    if rounding_mode is None:
        if a.array.dtype.kind in "iub":
            a, b = astype(a, default_float()), astype(b, default_float())
        return Div()(a, b)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{rounding_mode}'")
    if a.array.dtype.kind in "iub":
        _no_int_zero("div", b)
        fn = np.floor_divide if rounding_mode == "floor" else _trunc_div_int
        return Piecewise(lambda x, y: fn(x, y).astype(x.dtype, copy=False))(a, b)
    fn2 = xp_of(a.array).floor if rounding_mode == "floor" else xp_of(a.array).trunc
    return Piecewise(lambda x, y: fn2(x / y))(a, b)


def _trunc_div_int(x: Any, y: Any) -> Any:
    q = np.floor_divide(x, y)
    return q + ((q < 0) & (q * y != x))


divide = div


def true_divide(dividend: Any, divisor: Any) -> Tensor:
    """dividend / divisor (PyTorch's alias of div)."""
    return div(dividend, divisor)
multiply = mul
subtract = sub


def _no_int_zero(op: str, b: Tensor) -> None:
    """PyTorch refuses integer division by zero (NumPy gives 0 with a warning)."""
    if b.array.dtype.kind in "iub" and host_any(b.array == 0):
        raise RuntimeError(f"ZeroDivisionError: {op}: integer division by zero")


def pow(input: Any, exponent: Any) -> Tensor:
    a, b = promoted(input, exponent)
    f = Pow()
    if not b.requires_grad:
        f.saves = "0 1"  # the output is only needed for the exponent's gradient
    return f(a, b)


def neg(input: Any) -> Tensor: return Neg()(as_operand(input))
def abs(input: Any) -> Tensor: return Abs()(as_operand(input))


negative = neg
absolute = abs


def _floating(x: Any) -> Tensor:
    """Math functions of integer tensors compute in the default float dtype, as PyTorch."""
    x = as_operand(x)
    return astype(x, default_float()) if x.array.dtype.kind in "iub" else x


def exp(input: Any) -> Tensor: return Exp()(_floating(input))
def log(input: Any) -> Tensor: return Log()(_floating(input))
def log1p(input: Any) -> Tensor: return Log1p()(_floating(input))
def sqrt(input: Any) -> Tensor: return Sqrt()(_floating(input))
def sin(input: Any) -> Tensor: return Sin()(_floating(input))
def cos(input: Any) -> Tensor: return Cos()(_floating(input))
def maximum(input: Any, other: Any) -> Tensor: return Maximum()(*promoted(input, other))
def minimum(input: Any, other: Any) -> Tensor: return Minimum()(*promoted(input, other))


def clamp(input: Any, min: Any = None, max: Any = None) -> Tensor:
    """Clamp into [min, max]; the gradient is 1 inside (bounds included) and 0 outside. Bounds
    may be numbers or tensors; min > max gives max everywhere, as in PyTorch."""
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    x = as_operand(input)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        bounds = [b for b in (min, max) if b is not None]
        return ClampBy(min is not None, max is not None)(*promoted(x, *bounds))
    if x.array.dtype.kind in "iub" and any(isinstance(v, float) for v in (min, max)):
        x = astype(x, default_float())
    return Clip(min, max)(x)


clip = clamp


def clamp_min(input: Any, min: Any) -> Tensor:
    return clamp(input, min=min)


def clamp_max(input: Any, max: Any) -> Tensor:
    return clamp(input, max=max)


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """Elements of input where condition holds, else of other; gradients go to the chosen
    side. where(condition) alone is nonzero(condition, as_tuple=True)."""
    if isinstance(condition, Tensor):
        cond = condition.array
    else:
        cond = condition if is_device_array(condition) else np.asarray(condition)
    if input is None and other is None:
        return tuple(Tensor._make(i.astype(np.int64), None) for i in cond.nonzero())
    if cond.dtype != bool:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {cond.dtype}; compare it first: where(x > 0, ...)")
    a, b = promoted(input, other)
    xp = xp_of(a.array, b.array)
    if xp is not np and not isinstance(condition, Tensor) and not is_device_array(cond):
        cond = xp.asarray(cond)  # a host constant (a NumPy mask): uploaded once, on purpose
    return Where(cond)(a, b)


def astype(x: Tensor, dtype: Any) -> Tensor:
    """x converted to dtype (x itself when it already has it); recorded, so gradients flow back
    to the original dtype."""
    dt = as_numpy_dtype(dtype)
    if x.array.dtype == dt:
        return x
    return Cast(dt)(x)


