"""The gamma-function family on arrays: log|Gamma(x)| (lgamma), its derivative digamma and the
higher derivatives polygamma(n, x), as PyTorch computes them (lgamma(-inf) = inf, digamma(+-0)
= -+inf, NaN at the negative integers).

NumPy has none of these and the engine depends on NumPy alone, so they are computed here in
float64, to a few units in the last place: lgamma by the standard library's math.lgamma;
digamma by the recurrence psi(x) = psi(x + 1) - 1 / x, which shifts x above 10, where the
asymptotic series needs six Bernoulli terms; polygamma as the Hurwitz zeta function,
n! (-1)^(n+1) zeta(n + 1, x), summed directly up to x + N > 10 and closed by its
Euler-Maclaurin tail.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.backend import xp_of

# B_2k / (2k) for k = 1..6: the digamma asymptotic series log x - 1/(2x) - sum B_2k/(2k x^2k)
_PSI_SERIES = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760)
# B_2k / (2k)! for k = 1..8: the Euler-Maclaurin tail of the Hurwitz zeta function
_ZETA_SERIES = (1 / 12, -1 / 720, 1 / 30240, -1 / 1209600, 1 / 47900160,
                -691 / 1307674368000, 1 / 74724249600, -3617 / 10670622842880000)


def _on_host(fn: Any, x: Any, *args: Any) -> Any:
    """fn on a NumPy float64 copy of x, returned in x's dtype (and array module)."""
    xp = xp_of(x)
    host = np.asarray(x.get() if hasattr(x, "get") else x, dtype=np.float64)
    with np.errstate(all="ignore"):
        y = fn(host, *args)
    return xp.asarray(y).astype(x.dtype, copy=False)


def _lgamma64(x: np.ndarray) -> np.ndarray:
    y = np.vectorize(_lgamma_scalar, otypes=[np.float64])(x) if x.size else x.copy()
    return np.where(x == -np.inf, np.inf, y)  # PyTorch: log|Gamma(-inf)| = inf


def _lgamma_scalar(v: float) -> float:
    try:
        return math.lgamma(v)
    except ValueError:  # a pole: 0 and the negative integers
        return math.inf


def _digamma64(x: np.ndarray) -> np.ndarray:
    y = _digamma_series(x)
    y = np.where(x == 0, np.where(np.signbit(x), np.inf, -np.inf), y)
    return np.where((x < 0) & (x == np.floor(x)), np.nan, y)


def _digamma_series(x: np.ndarray) -> np.ndarray:
    neg = x < 0
    z = np.where(neg, 1.0 - x, x)  # reflection: psi(x) = psi(1 - x) - pi / tan(pi x)
    acc = np.zeros_like(z)
    for _ in range(10):
        small = z < 10
        acc = acc - np.where(small, 1.0 / z, 0.0)
        z = np.where(small, z + 1.0, z)
    inv2 = 1.0 / (z * z)
    series = np.zeros_like(z)
    for c in reversed(_PSI_SERIES):
        series = (series + c) * inv2
    y = np.log(z) - 0.5 / z - series + acc
    return np.where(neg, y - np.pi / np.tan(np.pi * x), y)


def _polygamma64(n: int, x: np.ndarray) -> np.ndarray:
    if n == 0:
        return _digamma64(x)
    y = _polygamma_series(n, x)
    # PyTorch's kernels: trigamma is NaN at -inf; its zeta (n >= 2) is NaN at +inf
    return np.where((x == (-np.inf if n == 1 else np.inf)), np.nan, y)


def _polygamma_series(n: int, x: np.ndarray) -> np.ndarray:
    s = n + 1
    fin = np.isfinite(x)
    lowest = float(x[fin].min()) if fin.any() else 0.0
    terms = 10 + max(0, math.ceil(-lowest))  # enough direct terms for x + N > 10 everywhere
    total = np.zeros_like(x)
    for k in range(terms):
        total = total + (x + k) ** -float(s)
    z = x + terms
    total = total + z ** (1.0 - s) / (s - 1) + 0.5 * z ** -float(s)
    rising = float(s)  # s (s + 1) ... (s + 2j - 2), the factor of the j-th tail term
    for j, c in enumerate(_ZETA_SERIES, start=1):
        total = total + c * rising * z ** (-s - 2.0 * j + 1)
        rising *= (s + 2 * j - 1) * (s + 2 * j)
    y = (-1.0) ** (n + 1) * math.factorial(n) * total
    y = np.where((x <= 0) & (x == np.floor(x)), np.inf if n % 2 else -np.inf, y)
    return np.where(x == np.inf, 0.0, y)


def lgamma_array(x: Any) -> Any:
    return _on_host(_lgamma64, x)


def polygamma_array(n: int, x: Any) -> Any:
    return _on_host(lambda a: _polygamma64(n, a), x)
