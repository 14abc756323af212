"""Normalisation with batch statistics, fused for speed: batch-norm and layer-norm in one op.

    xhat = (x - mean(x)) / sqrt(var(x) + eps)      (mean, biased var over `axes`)
    y    = xhat * weight + bias                    (weight, bias broadcast as `param_shape`)

Batch-norm reduces over every axis but the channel axis 1; layer-norm over the trailing axes.
The composite of mean, sub, mul, ... records about a dozen nodes and as many full-size temporaries
in each direction; this op does one pass forward and one backward. float16 inputs are normalised
in float32 and the results rounded to float16, as PyTorch does on the CPU (a float16 count or sum
of squares overflows beyond 65504).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function, is_grad_enabled
from chainrule.backend import xp_of
from chainrule.tensor import Tensor


def _sum_to(a: Any, shape: tuple[int, ...]) -> Any:
    """Sum a full-size array down to a broadcastable shape of the same rank."""
    axes = tuple(i for i, (s, n) in enumerate(zip(shape, a.shape)) if s == 1 and n != 1)
    return a.sum(axis=axes, keepdims=True) if axes else a


def _sum(a: Any, axes: tuple[int, ...]) -> Any:
    """a summed over axes, kept as size-1 dimensions. For the layouts of batch-norm and
    layer-norm this is a matrix-vector product with ones: BLAS runs it about 3x faster than
    ufunc.reduce over a leading axis."""
    xp, s, nd = xp_of(a), a.shape, a.ndim
    kept = tuple(1 if i in axes else n for i, n in enumerate(s))
    if not a.flags.c_contiguous or a.size == 0:
        return a.sum(axis=axes, keepdims=True)
    k = len(axes)
    outer = 1
    for n in s[:nd - k]:
        outer *= n
    if axes == tuple(range(nd - k, nd)):  # trailing axes (layer-norm)
        A = a.reshape(outer, -1)
        return (A @ xp.ones(A.shape[1], a.dtype)).reshape(kept)
    if axes == (0,) + tuple(range(2, nd)):  # all but axis 1 (batch-norm)
        if nd > 2:
            a = a.reshape(s[0] * s[1], -1) @ xp.ones(a.size // (s[0] * s[1]), a.dtype)
        A = a.reshape(s[0], s[1])
        return (xp.ones(s[0], a.dtype) @ A).reshape(kept)
    return a.sum(axis=axes, keepdims=True)


def _wrap(a: Any) -> Tensor | None:
    return None if a is None else Tensor._make(a, None)


class Normalize(Function):
    """Inputs (x,) or (x, weight, bias); outputs y of x's shape. After forward, `mean` and `var`
    hold the batch statistics (kept dims), for running-statistics updates.

    The weight varies either along none of `axes` (batch-norm: param_shape is 1 exactly on
    `axes`) or along all of them and no other (layer-norm: param_shape is 1 exactly elsewhere).
    """

    saves = "inputs"

    def __init__(self, axes: tuple[int, ...], param_shape: tuple[int, ...] | None,
                 eps: float) -> None:
        self.axes, self.param_shape, self.eps = axes, param_shape, eps

    def forward(self, x: Any, *wb: Any) -> Any:
        if x.dtype == np.float16:
            return self._forward(x.astype(np.float32), *(a.astype(np.float32) for a in wb)
                                 ).astype(np.float16)
        return self._forward(x, *wb)

    def _forward(self, x: Any, *wb: Any) -> Any:
        xp = xp_of(x)
        m = x.dtype.type(max(self._count(x.shape), 1))  # 1: an empty batch gives an empty y
        self.mean = _sum(x, self.axes) / m
        d = x - self.mean
        sq = xp.multiply(d, d)
        self.var = _sum(sq, self.axes) / m
        self.inv = 1.0 / xp.sqrt(self.var + x.dtype.type(self.eps))
        d *= self.inv
        self.xhat = d
        if not wb:
            return d.copy()  # backward reads xhat: the output must not share it
        w, b = (a.reshape(self.param_shape) for a in wb)
        y = xp.multiply(d, w, out=sq)  # reuse the squares' buffer for the output
        y += b
        return y

    def backward(self, gy: Tensor) -> tuple:
        if is_grad_enabled():  # create_graph=True: build the gradient from differentiable ops
            return self._backward_graph(gy)
        # plain backward records nothing, so the same formulas run directly on arrays
        g = gy.array
        gs = self._backward_arrays(g if g.dtype == self.xhat.dtype else g.astype(self.xhat.dtype))
        gx, gw, gb = (None if a is None else a.astype(t.dtype, copy=False)
                      for a, t in zip(gs, tuple(self.inputs) + (None,) * 2))
        if len(self.inputs) == 1:
            return _wrap(gx)
        return _wrap(gx), _wrap(gw), _wrap(gb)

    def _backward_arrays(self, g: Any) -> tuple[Any, Any, Any]:
        n = self.needs_input_grad
        affine = len(self.inputs) == 3
        xhat, axes = self.xhat, self.axes
        w = self.inputs[1].array.reshape(self.param_shape) if affine else None
        # batch-norm's weight is constant along the reduced axes, so it comes out of the sums
        # (and its gradient is one of them); layer-norm's varies along them
        w_inside = affine and any(self.param_shape[a] != 1 for a in axes)
        G = g * w if w_inside else g
        s_gx = _sum(G * xhat, axes)
        s_g = _sum(G, axes)
        gx = gw = gb = None
        if n[0]:
            m = g.dtype.type(max(self._count(g.shape), 1))
            gx = xhat * (s_gx / m)
            gx += s_g / m
            xp_of(g).subtract(G, gx, out=gx)
            gx *= (self.inv * w) if affine and not w_inside else self.inv
        if affine and n[1]:
            gw = (_sum_to(g * xhat, self.param_shape) if w_inside else s_gx)
            gw = gw.reshape(self.inputs[1].shape)
        if affine and n[2]:
            gb = (_sum_to(g, self.param_shape) if w_inside else s_g).reshape(self.inputs[2].shape)
        return gx, gw, gb

    def _count(self, shape: tuple[int, ...]) -> int:
        m = 1
        for a in self.axes:
            m *= shape[a]
        return m

    def _backward_graph(self, gy: Tensor) -> Any:
        """dx = inv * (g - mean(g) - xhat * mean(g * xhat)), g = gy * weight; dweight =
        sum(gy * xhat), dbias = sum(gy) over the broadcast axes; xhat recomputed from x."""
        x = self.inputs[0]
        if x.array.dtype == np.float16:  # in float32, as forward
            gy, x = gy.float(), x.float()
        n = self.needs_input_grad
        mu = x.mean(self.axes, keepdims=True)
        d = x - mu
        inv = ((d * d).mean(self.axes, keepdims=True) + self.eps) ** -0.5
        xhat = d * inv
        affine = len(self.inputs) == 3
        g = gy * self.inputs[1].reshape(self.param_shape) if affine else gy
        gx = None
        if n[0]:
            gx = inv * (g - g.mean(self.axes, keepdims=True)
                        - xhat * (g * xhat).mean(self.axes, keepdims=True))
            gx = gx.to(self.inputs[0].dtype)
        if not affine:
            return gx
        w, b = self.inputs[1:]
        gw = (gy * xhat).sum(self._param_axes(), keepdims=True).reshape(w.shape).to(w.dtype) \
            if n[1] else None
        gb = gy.sum(self._param_axes(), keepdims=True).reshape(b.shape).to(b.dtype) \
            if n[2] else None
        return gx, gw, gb

    def _param_axes(self) -> tuple[int, ...]:
        return tuple(i for i, s in enumerate(self.param_shape) if s == 1)


def normalize(x: Tensor, axes: tuple[int, ...], weight: Tensor | None, bias: Tensor | None,
              param_shape: tuple[int, ...] | None, eps: float) -> tuple[Tensor, Any, Any]:
    """(y, batch mean, batch var) with y = (x - mean) / sqrt(var + eps) * weight + bias over
    `axes` (non-negative, sorted); weight and bias (both or neither) reshape to `param_shape`,
    which has x's rank. The statistics are raw arrays with the reduced axes kept."""
    op = Normalize(axes, param_shape, eps)
    y = op(x) if weight is None else op(x, weight, bias)
    return y, op.mean, op.var
