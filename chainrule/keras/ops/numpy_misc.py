"""More of keras.ops' NumPy-like functions: sizes, averages and medians, closeness, finite
values, differences and grids."""

from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr
from chainrule.keras.ops._convert import cast, convert_to_tensor, narrow, to_float
from chainrule.tensor import Tensor

_t = convert_to_tensor


def array(x: Any, dtype: Any = None) -> Tensor:
    """The same as convert_to_tensor(x, dtype)."""
    return _t(x, dtype)


def size(x: Any) -> Tensor:
    """The number of elements of x, as a 0-d int64 tensor (as Keras' torch backend)."""
    return Tensor._make(np.asarray(_t(x).numel(), dtype=np.int64), None)


def ndim(x: Any) -> int:
    return x.ndim if hasattr(x, "ndim") else _t(x).ndim


def average(x: Any, axis: int | None = None, weights: Any = None) -> Tensor:
    """The mean of x over `axis` (None: all), weighted by `weights` (same shape as x, or 1-D
    along `axis`) when given."""
    t = narrow(to_float(_t(x)))
    if weights is None:
        return cr.mean(t) if axis is None else cr.mean(t, dim=axis)
    w = cast(narrow(_t(weights)), t.array.dtype)
    if axis is not None and w.ndim == 1 and t.ndim > 1:
        shape = [1] * t.ndim
        shape[axis] = w.shape[0]
        w = w.reshape(shape)
    w = cr.broadcast_to(w, tuple(t.shape))
    if axis is None:
        return cr.sum(t * w) / cr.sum(w)
    return cr.sum(t * w, dim=axis) / cr.sum(w, dim=axis)


def median(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    """NumPy's median (the mean of the two middle values for an even count)."""
    t = narrow(to_float(_t(x)))
    if axis is None:
        out = cr.quantile(t.reshape(-1), 0.5)
        return out.reshape((1,) * t.ndim) if keepdims else out
    return cr.quantile(t, 0.5, dim=axis, keepdim=keepdims)


def isclose(x1: Any, x2: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|x1 - x2| <= atol + rtol * |x2|, element-wise (exact equality for ints)."""
    a, b = narrow(_t(x1)), narrow(_t(x2))
    dt = np.result_type(a.array.dtype, b.array.dtype)
    a, b = cast(a, dt), cast(b, dt)
    if dt.kind != "f":
        return cr.eq(a, b)
    return cr.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """x with NaN, +inf and -inf replaced (by default: 0, the largest and lowest finite)."""
    return cr.nan_to_num(_t(x), nan=nan, posinf=posinf, neginf=neginf)


def diff(a: Any, n: int = 1, axis: int = -1) -> Tensor:
    """The n-th discrete difference along `axis`."""
    return cr.diff(_t(a), n=n, dim=axis)


def meshgrid(*x: Any, indexing: str = "xy") -> list[Tensor]:
    """Coordinate grids from 1-D arrays ('xy': Cartesian, 'ij': matrix indexing)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ts = [_t(v) for v in x]
    if indexing == "ij" or len(ts) < 2:
        return list(cr.meshgrid(*ts, indexing="ij"))
    # 'xy' = 'ij' with the first two inputs and outputs swapped (built here from 'ij': the
    # engine's cr.meshgrid(indexing='xy') transposes its result once too often)
    out = list(cr.meshgrid(ts[1], ts[0], *ts[2:], indexing="ij"))
    out[0], out[1] = out[1], out[0]
    return out
