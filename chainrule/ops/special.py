"""The error function family (erf, erfc, erfinv), the log-sum-exp of two operands (logaddexp,
logaddexp2), log-sigmoid (F.logsigmoid), nan_to_num and sgn.

erf and erfc use SciPy when it is installed (a speed-up only) and the standard library's math
otherwise; erfinv refines a closed-form first guess with Newton steps on erf, so it is exact to
float64 rounding without SciPy too.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import scipy_special, xp_of
from chainrule.operands import as_operand, promoted
from chainrule.ops.activation import _erf, sigmoid
from chainrule.ops.elementwise import Scale, _bcast, _floating, exp
from chainrule.ops.pointwise import sign
from chainrule.tensor import Tensor

try:  # optional speed-up only: the core needs NumPy alone
    from scipy.special import erfc as _erfc_fast
    from scipy.special import erfinv as _erfinv_fast
except ImportError:  # pragma: no cover - depends on the environment
    _erfc_fast = _erfinv_fast = None

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _erfc(x: Any) -> Any:
    if _erfc_fast is not None and xp_of(x) is np:
        return _erfc_fast(x)
    if xp_of(x) is not np:
        return scipy_special(xp_of(x)).erfc(x)
    return np.vectorize(math.erfc, otypes=[np.float64])(x).astype(x.dtype, copy=False)


def _erfinv(y: Any) -> Any:
    if _erfinv_fast is not None and xp_of(y) is np:
        return _erfinv_fast(y)
    if xp_of(y) is not np:
        return scipy_special(xp_of(y)).erfinv(y)
    return _erfinv_numpy(y)


def _erfinv_numpy(y: Any) -> Any:
    """erfinv without SciPy: M. Giles' single-precision approximation (2010), then Newton
    steps on erf(x) = y, each of which doubles the number of correct digits; for |y| > 0.5 the
    steps solve log erfc(|x|) = log(1 - |y|) instead, where 1 - |y| is exact."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        y64 = np.asarray(y, dtype=np.float64)
        inside = np.abs(y64) < 1
        t = np.where(inside, y64, 0.0)
        w = -np.log((1.0 - t) * (1.0 + t))
        p_small = np.polyval([2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                              0.00021858087, -0.00125372503, -0.00417768164, 0.246640727,
                              1.50140941], w - 2.5)
        p_large = np.polyval([-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                              0.00573950773, -0.0076224613, 0.00943887047, 1.00167406,
                              2.83297682], np.sqrt(w) - 3.0)
        x = np.where(w < 5.0, p_small, p_large) * t
        erf = np.vectorize(math.erf, otypes=[np.float64])
        erfc = np.vectorize(math.erfc, otypes=[np.float64])
        tail = np.abs(t) > 0.5
        ax, d = np.abs(x), 1.0 - np.abs(t)  # d is exact for |t| >= 0.5
        for _ in range(4):
            dens = _TWO_OVER_SQRT_PI * np.exp(-x * x)
            x = x - (erf(x) - t) / dens
            # in the tail, Newton on log erfc(|x|) = log(1 - |t|), which is nearly quadratic there
            e = erfc(ax)
            ax = ax + (np.log(e) - np.log(d)) * e / (_TWO_OVER_SQRT_PI * np.exp(-ax * ax))
        x = np.where(tail, np.sign(t) * ax, x)
        edge = np.where(np.abs(y64) == 1, np.copysign(np.inf, y64), np.nan)
        x = np.where(inside, x, edge)
    return x.astype(np.asarray(y).dtype, copy=False)


class Erf(Function):
    saves = "0"

    def forward(self, x: Any) -> Any:
        return _erf(x).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:  # 2 / sqrt(pi) * exp(-x^2)
        x = self.inputs[0]
        return gy * exp(-(x * x)) * _TWO_OVER_SQRT_PI


class Erfc(Function):
    saves = "0"

    def forward(self, x: Any) -> Any:
        return _erfc(x).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        return gy * exp(-(x * x)) * -_TWO_OVER_SQRT_PI


class Erfinv(Function):
    """The inverse of erf on (-1, 1) (+-inf at +-1, NaN outside). Backward: sqrt(pi) / 2 *
    exp(erfinv(x)^2), with erfinv recomputed from the input as PyTorch does (it saves x)."""

    saves = "0"

    def forward(self, x: Any) -> Any:
        return _erfinv(x).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        y = erfinv(self.inputs[0])
        return gy * exp(y * y) * (math.sqrt(math.pi) / 2)


class LogAddExp(Function):
    """log(exp(a) + exp(b)) (base 2 with log2(2^a + 2^b)), without overflow; the gradient of a
    is the sigmoid of (a - b) (times ln 2 inside for base 2), PyTorch's 1 / (1 + exp(b - a))."""

    saves = "inputs"

    def __init__(self, base2: bool) -> None:
        self.base2 = base2

    def forward(self, a: Any, b: Any) -> Any:
        xp = xp_of(a, b)
        try:
            return xp.logaddexp2(a, b) if self.base2 else xp.logaddexp(a, b)
        except ValueError:
            raise _bcast("logaddexp", a, b) from None

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        n = self.needs_input_grad
        d = a - b
        if self.base2:
            d = d * math.log(2.0)
        return (gy * sigmoid(d) if n[0] else None), (gy * sigmoid(-d) if n[1] else None)


class LogSigmoid(Function):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)) (stable for large |x|); the gradient is
    sigmoid(-x)."""

    saves = "0"

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        return (xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * sigmoid(-self.inputs[0])


# -- the public functions ------------------------------------------------------------------------
def erf(input: Any) -> Tensor: return Erf()(_floating(input))
def erfc(input: Any) -> Tensor: return Erfc()(_floating(input))
def erfinv(input: Any) -> Tensor: return Erfinv()(_floating(input))


def _logaddexp(op: str, input: Any, other: Any, base2: bool) -> Tensor:
    a, b = promoted(input, other)
    if a.array.dtype.kind in "iub":
        raise NotImplementedError(f'"{op}_cpu" not implemented for {a.dtype}: {op} takes '
                                  "floating tensors; convert first: x.float()")
    return LogAddExp(base2)(a, b)


def logaddexp(input: Any, other: Any) -> Tensor:
    """log(exp(input) + exp(other)), elementwise with broadcasting, without overflow."""
    return _logaddexp("logaddexp", input, other, False)


def logaddexp2(input: Any, other: Any) -> Tensor:
    """log2(2**input + 2**other), elementwise with broadcasting, without overflow."""
    return _logaddexp("logaddexp2", input, other, True)


def logsigmoid(input: Any) -> Tensor:
    """log(1 / (1 + exp(-x))), elementwise (F.logsigmoid; PyTorch has no torch.logsigmoid)."""
    x = as_operand(input)
    if x.array.dtype.kind in "iub":
        raise NotImplementedError(f'"log_sigmoid_cpu" not implemented for {x.dtype}; convert '
                                  "first: x.float()")
    return LogSigmoid()(x)


class _NanToNum(Function):
    """NaN, +inf and -inf replaced by finite numbers; the gradient passes where x is finite
    and is 0 where it was replaced, as in PyTorch."""

    saves = "0"

    def __init__(self, nan: float, posinf: Any, neginf: Any) -> None:
        self.nan, self.posinf, self.neginf = nan, posinf, neginf

    def forward(self, x: Any) -> Any:
        return xp_of(x).nan_to_num(x, copy=True, nan=self.nan, posinf=self.posinf,
                                   neginf=self.neginf)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].array
        return Scale(xp_of(x).isfinite(x))(gy)


def nan_to_num(input: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN -> nan, +inf -> posinf, -inf -> neginf (by default the largest and the lowest finite
    value of the dtype); integer and bool tensors come back copied."""
    x = as_operand(input)
    if x.array.dtype.kind in "iub":
        return Tensor._make(x.array.copy(), None)
    return _NanToNum(nan, posinf, neginf)(x)


def sgn(input: Any) -> Tensor:
    """sign(x) for real tensors (gradient zero); x / |x| (0 at 0) for complex ones."""
    x = as_operand(input)
    a = x.array
    if a.dtype.kind != "c":
        return sign(x)
    xp = xp_of(a)
    m = xp.abs(a)
    return Tensor._make(xp.where(m == 0, 0, a / xp.where(m == 0, 1, m)).astype(a.dtype), None)
