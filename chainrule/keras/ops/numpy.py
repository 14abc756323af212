"""keras.ops' NumPy-like math: element-wise functions, comparisons and reductions.

Each takes what Keras takes (tensors, arrays, lists, Python numbers) and returns a chainrule
Tensor, differentiable where Keras' op is. Keras' meanings, not PyTorch's: `std` and `var` are
population statistics (ddof 0), `max` returns values only, `argmax` returns int32, integer
inputs to mean or to transcendental functions give float32.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import chainrule as cr
from chainrule.keras.ops._convert import (
    axes,
    cast,
    convert_to_tensor,
    is_float,
    narrow,
    to_float,
)
from chainrule.tensor import Tensor

_t = convert_to_tensor
_PY = (bool, int, float)


def _unary(name: str, fn: Callable[[Tensor], Tensor], floating: bool) -> Callable:
    def op(x: Any) -> Tensor:
        t = _t(x)
        return fn(to_float(t) if floating else t)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"keras.ops.{name}: element-wise, same shape as x" + (
        " (ints and bools give float32)." if floating else ".")
    return op


_FLOATING = {
    "exp": cr.exp, "log": cr.log, "sqrt": cr.sqrt, "tanh": cr.tanh, "sin": cr.sin, "cos": cr.cos,
    "tan": cr.tan, "sinh": cr.sinh, "cosh": cr.cosh, "arcsin": cr.asin, "arccos": cr.acos,
    "arctan": cr.atan, "arcsinh": cr.asinh, "arccosh": cr.acosh, "arctanh": cr.atanh,
    "log1p": cr.log1p, "expm1": cr.expm1, "log2": cr.log2, "log10": cr.log10,
    "rsqrt": cr.rsqrt, "erf": cr.erf, "erfinv": cr.erfinv, "reciprocal": cr.reciprocal,
}
_SAME = {"abs": cr.abs, "absolute": cr.abs, "negative": cr.neg, "square": cr.square,
         "sign": cr.sign}
for _n, _f in _FLOATING.items():
    globals()[_n] = _unary(_n, _f, True)
for _n, _f in _SAME.items():
    globals()[_n] = _unary(_n, _f, False)


def floor(x: Any) -> Tensor:
    """Element-wise floor; ints give float32, as in Keras."""
    return cr.floor(narrow(to_float(_t(x))))


def ceil(x: Any) -> Tensor:
    """Element-wise ceiling; ints give float32, as in Keras."""
    return cr.ceil(narrow(to_float(_t(x))))


def round(x: Any, decimals: int = 0) -> Tensor:  # noqa: A001  (Keras' name)
    """Round half to even (NumPy's rule) to `decimals` places."""
    t = _t(x)
    return cr.round(t, decimals=decimals) if is_float(t) else t


def _pair(x1: Any, x2: Any) -> tuple[Any, Any]:
    """Tensors for two operands; a lone Python number stays weak (takes the tensor's dtype)."""
    if isinstance(x1, _PY) and not isinstance(x2, _PY):
        return x1, _t(x2)
    if isinstance(x2, _PY) and not isinstance(x1, _PY):
        return _t(x1), x2
    return _t(x1), _t(x2)


def _binary(name: str, fn: Callable, floating: bool = False, narrows: bool = False) -> Callable:
    def op(x1: Any, x2: Any) -> Tensor:
        a, b = _pair(x1, x2)
        if narrows:
            a = narrow(a) if isinstance(a, Tensor) else a
            b = narrow(b) if isinstance(b, Tensor) else b
        if floating:
            a = to_float(a) if isinstance(a, Tensor) else float(a)
            b = to_float(b) if isinstance(b, Tensor) else float(b)
        if not isinstance(a, Tensor):
            a = _like(a, b)
        elif not isinstance(b, Tensor):
            b = _like(b, a)
        return fn(a, b)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"keras.ops.{name}: element-wise with broadcasting."
    return op


def _like(scalar: Any, t: Tensor) -> Tensor:
    """A Python number beside tensor t, in the dtype PyTorch's (and Keras') promotion gives."""
    dt = cr.dtypes.result_type(t, scalar)
    return Tensor._make(np.asarray(scalar, dtype=dt), None)


# name: (function, computes in float, narrows 64-bit inputs as Keras' result_type does)
_BINARY = {
    "add": (cr.add, False, False), "subtract": (cr.sub, False, False),
    "multiply": (cr.mul, False, False), "divide": (cr.div, True, False),
    "true_divide": (cr.div, True, False), "power": (cr.pow, False, False),
    "maximum": (cr.maximum, False, True), "minimum": (cr.minimum, False, True),
    "floor_divide": (cr.floor_divide, False, False), "mod": (cr.remainder, False, False),
    "arctan2": (cr.atan2, True, True), "logaddexp": (cr.logaddexp, True, True),
    "equal": (cr.eq, False, False), "not_equal": (cr.ne, False, False),
    "greater": (cr.gt, False, False), "greater_equal": (cr.ge, False, False),
    "less": (cr.lt, False, False), "less_equal": (cr.le, False, False),
}
for _n, (_f, _fl, _nw) in _BINARY.items():
    globals()[_n] = _binary(_n, _f, _fl, _nw)


def _logical(name: str, fn: Callable) -> Callable:
    def op(x1: Any, x2: Any) -> Tensor:
        return fn(cast(_t(x1), bool), cast(_t(x2), bool))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"keras.ops.{name}: element-wise on truth values; a bool tensor."
    return op


logical_and = _logical("logical_and", cr.logical_and)
logical_or = _logical("logical_or", cr.logical_or)
logical_xor = _logical("logical_xor", cr.logical_xor)


def logical_not(x: Any) -> Tensor:
    return cr.logical_not(cast(_t(x), bool))


def isnan(x: Any) -> Tensor:
    return cr.isnan(_t(x))


def isinf(x: Any) -> Tensor:
    return cr.isinf(_t(x))


def isfinite(x: Any) -> Tensor:
    return cr.isfinite(_t(x))


def clip(x: Any, x_min: Any, x_max: Any) -> Tensor:
    """x limited to [x_min, x_max] (bools clip as int32, as in Keras)."""
    t = _t(x)
    if t.array.dtype == np.bool_:
        t = t.to(np.int32)
    return cr.clamp(t, x_min, x_max)


# -- reductions ------------------------------------------------------------------------------
def _reduce(t: Tensor, axis: Any) -> tuple[int, ...]:
    return axes(axis, t.ndim)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over `axis` (None: all); int32 and bool inputs give int32, as in Keras."""
    t = _t(x)
    small = t.array.dtype.kind in "bi" and t.array.dtype.itemsize <= 4
    out = cr.sum(t, dim=_reduce(t, axis), keepdim=keepdims)
    return out.to(np.int32) if small else out


def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Tensor:
    t = narrow(_t(x))
    out = cr.prod(t.flatten(), 0) if axis is None and not keepdims else t
    if axis is not None or keepdims:
        for d in sorted((a % t.ndim for a in _reduce(t, axis)), reverse=True):
            out = cr.prod(out, d, keepdim=keepdims)
    small = dtype is None and t.array.dtype.kind in "bi" and t.array.dtype.itemsize <= 4
    return cast(out, dtype) if dtype is not None else out.to(np.int32) if small else out


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over `axis` (None: all); ints give float32."""
    t = to_float(_t(x))
    return cr.mean(t, dim=_reduce(t, axis), keepdim=keepdims)


def var(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Population variance (ddof 0, NumPy's default; PyTorch's var is unbiased)."""
    t = narrow(to_float(_t(x)))
    return cr.var(t, dim=_reduce(t, axis), correction=0, keepdim=keepdims)


def std(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Population standard deviation (ddof 0)."""
    t = to_float(_t(x))
    return cr.std(t, dim=_reduce(t, axis), correction=0, keepdim=keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None) -> Tensor:
    """The largest values over `axis` (values only, not PyTorch's (values, indices))."""
    t = _t(x)
    out = cr.amax(t, dim=_reduce(t, axis), keepdim=keepdims)
    return out if initial is None else cr.maximum(out, _like(initial, out))


def min(x: Any, axis: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None) -> Tensor:
    """The smallest values over `axis` (values only)."""
    t = _t(x)
    out = cr.amin(t, dim=_reduce(t, axis), keepdim=keepdims)
    return out if initial is None else cr.minimum(out, _like(initial, out))


def amax(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return max(x, axis, keepdims)


def amin(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return min(x, axis, keepdims)


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Index of the largest value (flattened when axis is None), as int32."""
    t = _t(x)
    if axis is None:
        out = cr.argmax(t.reshape(-1), 0)
        return (out.reshape((1,) * t.ndim) if keepdims else out).to(np.int32)
    return cr.argmax(t, int(axis), keepdim=keepdims).to(np.int32)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Index of the smallest value (flattened when axis is None), as int32."""
    t = _t(x)
    if axis is None:
        out = cr.argmin(t.reshape(-1), 0)
        return (out.reshape((1,) * t.ndim) if keepdims else out).to(np.int32)
    return cr.argmin(t, int(axis), keepdim=keepdims).to(np.int32)


def any(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    t = cast(_t(x), bool)
    return cr.any(t, dim=_reduce(t, axis), keepdim=keepdims)


def all(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    t = cast(_t(x), bool)
    return cr.all(t, dim=_reduce(t, axis), keepdim=keepdims)


def count_nonzero(x: Any, axis: Any = None) -> Tensor:
    t = _t(x)
    return cr.sum(cr.ne(t, 0), dim=_reduce(t, axis)).to(np.int32)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over `axis` (None: all), computed stably."""
    t = to_float(_t(x))
    return cr.logsumexp(t, dim=_reduce(t, axis), keepdim=keepdims)


def _scan(fn: Callable, x: Any, axis: Any, dtype: Any) -> Tensor:
    t = narrow(_t(x))
    if axis is None:
        t, axis = t.reshape(-1), 0
    if dtype is None and t.array.dtype.kind in "bi" and t.array.dtype.itemsize <= 4:
        dtype = np.int32
    out = fn(t, int(axis))
    return out if dtype is None else cast(out, dtype)


def cumsum(x: Any, axis: Any = None, dtype: Any = None) -> Tensor:
    """Running sums along `axis` (None: over the flattened x)."""
    return _scan(cr.cumsum, x, axis, dtype)


def cumprod(x: Any, axis: Any = None, dtype: Any = None) -> Tensor:
    """Running products along `axis` (None: over the flattened x)."""
    return _scan(cr.cumprod, x, axis, dtype)
