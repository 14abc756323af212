"""Statistics as composites of the reductions: var and std (unbiased by default, with
PyTorch's correction / unbiased arguments and NumPy's ddof), var_mean, std_mean, and the
NaN-skipping nansum and nanmean."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import may_any, xp_of
from chainrule.operands import as_operand
from chainrule.ops.compare import isnan
from chainrule.ops.elementwise import astype, where
from chainrule.ops.reduce import _axes, _count, dim_args, mean, sum
from chainrule.tensor import Tensor


def nansum(input: Any, dim: Any = None, keepdim: bool = False, *,
           dtype: Any = None) -> Tensor:
    """sum treating NaN as zero."""
    x = as_operand(input)
    return sum(where(isnan(x), 0.0, x), dim, keepdim, dtype=dtype)


def nanmean(input: Any, dim: Any = None, keepdim: bool = False, *,
            dtype: Any = None) -> Tensor:
    """mean over the elements that are not NaN."""
    x = as_operand(input)
    count = sum(~isnan(x), dim, keepdim)
    total = nansum(x, dim, keepdim, dtype=dtype)
    if total.array.dtype == np.float16:  # divide in float32, as PyTorch: a count over 65504 is
        return astype(astype(total, np.float32) / count, np.float16)  # inf in float16
    return total / count.to(total.dtype)


def _var_args(op: str, dim: Any, unbiased: Any, keepdim: bool, correction: Any,
              kw: dict) -> tuple[Any, float, bool]:
    """var/std's arguments in any of PyTorch's forms: var(dim, unbiased, keepdim), var(dim,
    keepdim=, correction=), var(unbiased); NumPy's ddof= means correction."""
    if isinstance(dim, bool):  # var(True): the legacy var(unbiased)
        dim, unbiased = None, dim
    if "ddof" in kw:
        correction = kw.pop("ddof")
    dim, keepdim = dim_args(op, dim, keepdim, kw.pop("axis", None), kw.pop("keepdims", None))
    if kw:
        raise TypeError(f"{op}() got an unexpected keyword argument '{next(iter(kw))}'")
    if unbiased is not None and correction is not None:
        raise RuntimeError(f"{op}: cannot specify both the unbiased and correction arguments")
    c = (1.0 if unbiased else 0.0) if unbiased is not None else (
        1.0 if correction is None else float(correction))
    return dim, c, keepdim


def var(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None, **kw: Any) -> Tensor:
    """Variance over dim, dividing by N - correction: unbiased (correction=1) by default, as
    in PyTorch; unbiased=False or correction=0 gives the population variance."""
    x = as_operand(input)
    dim, c, keepdim = _var_args("var", dim, unbiased, keepdim, correction, kw)
    if x.array.dtype == np.float16:  # PyTorch computes half statistics in float32: the sum of
        # squares and the count overflow float16 beyond 65504
        return astype(var(astype(x, np.float32), dim, keepdim=keepdim, correction=c), np.float16)
    axes = _axes("var", dim, x.ndim)
    d = x - mean(x, axes, keepdim=True)
    n = builtins.max(_count(tuple(x.shape), axes) - c, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return sum(d * d, axes, keepdim) / float(n) if n else sum(d * d, axes, keepdim) * np.inf


def std(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None, **kw: Any) -> Tensor:
    """Standard deviation: sqrt(var) with var's arguments (unbiased by default). Its gradient
    is 0 where the result is 0 (a constant input), as in PyTorch, not 0 / 0 = NaN."""
    return StdSqrt()(var(input, dim, unbiased, keepdim, correction=correction, **kw))


class StdSqrt(Function):
    """sqrt(v) for a variance v, with PyTorch's std backward: gy / (2 std), and 0 where std is
    0 (there sqrt has no derivative, and the mean-centred x in var's backward is 0 anyway)."""

    saves = "out"

    def forward(self, v: Any) -> Any:
        return xp_of(v).sqrt(v)

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output
        zero = y.array == 0
        if not may_any(zero):
            return gy / (y * 2.0)
        # 1 stands in for 0 in the denominator, so even the branch where() discards is finite
        # and second derivatives are 0 there too, not 0 * inf
        return where(zero, 0.0, gy / (where(zero, 1.0, y) * 2.0))


def var_mean(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None, **kw: Any) -> tuple[Tensor, Tensor]:
    x = as_operand(input)
    v = var(x, dim, unbiased, keepdim, correction=correction, **kw)
    d, _, k = _var_args("var_mean", dim, unbiased, keepdim, correction, dict(kw))
    return v, mean(x, d, k)


def std_mean(input: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
             correction: Any = None, **kw: Any) -> tuple[Tensor, Tensor]:
    v, m = var_mean(input, dim, unbiased, keepdim, correction=correction, **kw)
    return StdSqrt()(v), m
