"""Fused loss ops: softmax cross-entropy and binary cross-entropy.

SoftmaxCrossEntropy is fused for speed and numerical stability: log-softmax and the pick of the
target class run in one pass over the logits (the max is subtracted before exp, so large logits
never overflow), and backward reuses the softmax saved by forward instead of building the five
nodes that log_softmax + getitem + mul + sum would. chainrule.nn.functional.cross_entropy builds
its coefficients (target class, class weights, ignored positions, label smoothing) and calls it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function, is_grad_enabled
from chainrule.backend import may_any, xp_of
from chainrule.ops.elementwise import Scale
from chainrule.ops.softmax import softmax
from chainrule.tensor import Tensor


def class_index(target: Any) -> tuple:
    """The advanced index that picks, for every position of a class-index target (N, *d), its
    class along axis 1 of an (N, C, *d) array: (arange(N), target, arange(d1), ...), broadcast."""
    xp = xp_of(target)
    nd = target.ndim
    grids = [xp.arange(n).reshape((1,) * k + (n,) + (1,) * (nd - k - 1))
             for k, n in enumerate(target.shape)]
    return (grids[0], target, *grids[1:])


def _with_class_axis(a: Any) -> Any:
    """(N, *d) -> (N, 1, *d), to broadcast against (N, C, *d)."""
    return a.reshape(a.shape[:1] + (1,) + a.shape[1:])


class SoftmaxCrossEntropy(Function):
    """l = -sum_c a[:, c] * log_softmax(x, axis=1)[:, c] for logits x (N, C, *d) -> l (N, *d),
    with a constant coefficient array `a` (N, C, *d).

    a = one-hot(target) gives the plain cross-entropy -log p[target]; class weights, ignored
    positions, label smoothing and probability targets are other choices of a. The one-hot case
    is given sparsely, without building a: `index` (from class_index) and `coef` (N, *d), the
    coefficient of each position's target class. d l / d x = (A p - a) * gl with p the softmax
    and A = sum_c a (N, *d). mean=True (a one-hot target with coef 1, x (N, C)) returns the mean
    over the N rows instead, a scalar: the default reduction in one node.
    """

    saves = "0"

    def __init__(self, coef: Any = None, index: tuple | None = None, dense: Any = None,
                 mean: bool = False) -> None:
        self.coef, self.index, self.dense, self.mean = coef, index, dense, mean
        self.A = coef if dense is None else dense.sum(axis=1)

    def forward(self, x: Any) -> Any:
        xp = xp_of(x)
        z = x - x.max(axis=1, keepdims=True)
        e = xp.exp(z)
        s = e.sum(axis=1, keepdims=True)
        if self.mean:  # log_softmax only where the targets pick it: N logs, not N * C
            e /= s
            self.p = e
            picked = z[self.index] - xp.log(s.reshape(-1))
            return xp.asarray(-(picked.sum() / x.shape[0]), dtype=x.dtype)
        z -= xp.log(s)  # z is now log_softmax(x)
        e /= s
        self.p = e  # the softmax, kept for backward
        if self.dense is None:
            return -(self.coef * z[self.index])
        return -(self.dense * z).sum(axis=1)

    def backward(self, gy: Tensor) -> Tensor:
        if self.mean:
            return self._mean_backward(gy)
        A = _with_class_axis(self.A)
        if is_grad_enabled():
            # create_graph=True: build the gradient from differentiable ops (softmax recomputed)
            # so that it can be differentiated again
            p = softmax(self.inputs[0], axis=1)
            a = Tensor._make(self._dense_coefficients(p.array), None)
            return (Scale(A)(p) - a) * gy.unsqueeze(1)
        # first order, nothing recorded: the same formula on the arrays forward saved
        g = self.p * A
        if self.dense is None:
            g[self.index] -= self.coef
        else:
            g -= self.dense
        g *= _with_class_axis(gy.array)
        return Tensor._make(g, None)

    def _mean_backward(self, gy: Tensor) -> Tensor:
        """(softmax(x) - onehot(y)) * gl / N for the mean over N rows."""
        n = self.p.shape[0]
        if is_grad_enabled():  # create_graph=True: differentiable, as in backward()
            p = softmax(self.inputs[0], axis=1)
            return (p - Tensor._make(self._dense_coefficients(p.array), None)) * (gy / n)
        scale = gy.array / n
        g = self.p * scale
        g[self.index] -= scale
        return Tensor._make(g, None)

    def _dense_coefficients(self, like: Any) -> Any:
        if self.dense is not None:
            return self.dense
        a = xp_of(like).zeros(like.shape, dtype=like.dtype)
        a[self.index] = self.coef
        return a


def softmax_cross_entropy(x: Tensor, coef: Any = None, index: tuple | None = None,
                          dense: Any = None) -> Tensor:
    """Per-position cross-entropy of logits x (N, C, *d) against constant coefficients: sparse
    (coef (N, *d) at the classes picked by index) or dense (a (N, C, *d)). See the class."""
    return SoftmaxCrossEntropy(coef, index, dense)(x)


def mean_softmax_cross_entropy(x: Tensor, target: Any) -> Tensor:
    """mean_i -log_softmax(x)[i, target[i]] for logits x (N, C) and class indices target (N,),
    N > 0, all in 0..C-1 (the caller checks): PyTorch's default cross_entropy fused with its
    mean for speed (one node, no coefficient arrays); a scalar of x's dtype."""
    xp = xp_of(target)
    return SoftmaxCrossEntropy(1, (xp.arange(target.shape[0]), target), mean=True)(x)


# -- binary cross-entropy ------------------------------------------------------------------------
BCE_EPS = 1e-12  # PyTorch's floor under p (1 - p) in the double backward
# and in the gradient, where PyTorch's constant is a C float: float32(1e-12), then the input's
# dtype (float16 rounds it to 0, and its gradient at p = 0 or 1 is infinite, as PyTorch's is)
BCE_GRAD_EPS = np.float32(BCE_EPS)


class BinaryCrossEntropy(Function):
    """l = -(t max(log p, -100) + (1 - t) max(log(1 - p), -100)) elementwise, for probabilities
    p and targets t of one shape. Fused to give PyTorch's gradients, which are not those of the
    clamped formula: d l / d p = (p - t) / max(p (1 - p), 1e-12), steep but finite at p = 0 or 1
    (where the clamped log's is 0), and d l / d t = log(1 - p) - log(p)."""

    saves = "inputs"

    def forward(self, p: Any, t: Any) -> Any:
        xp = xp_of(p)
        with np.errstate(divide="ignore"):
            lp = xp.maximum(xp.log(p), -100)
            lq = xp.maximum(xp.log1p(-p), -100)
        return (t - 1) * lq - t * lp

    def backward(self, gy: Tensor) -> tuple:
        p, t = self.inputs
        gp = BinaryCrossEntropyGrad()(gy, p, t) if self.needs_input_grad[0] else None
        gt = None
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gt = gy * ((1.0 - p).log() - p.log())
        return gp, gt


def _floor(m: Tensor) -> Tensor:
    """max(m, BCE_EPS), constant (no gradient) where the floor holds."""
    from chainrule.ops.elementwise import where

    low = m.array < m.array.dtype.type(BCE_EPS)
    return where(low, BCE_EPS, m) if may_any(low) else m


class BinaryCrossEntropyGrad(Function):
    """gy (p - t) / max(p (1 - p), 1e-12): BinaryCrossEntropy's gradient in p, an op of its own
    so that its derivatives are PyTorch's double backward (exact inside (0, 1))."""

    saves = "inputs"

    def forward(self, gy: Any, p: Any, t: Any) -> Any:
        xp = xp_of(p)
        return gy * (p - t) / xp.maximum(p * (1 - p), p.dtype.type(BCE_GRAD_EPS))

    def backward(self, gg: Tensor) -> tuple:
        gy, p, t = self.inputs
        n = self.needs_input_grad
        den = _floor(p * (1.0 - p)) if n[2] else None
        g_gy = BinaryCrossEntropyGrad()(gg, p, t) if n[0] else None
        g_p = None
        if n[1]:  # d/dp (p - t) / (p (1 - p)) = (p^2 - 2 p t + t) / (p (1 - p))^2
            e = BCE_EPS
            g_p = gg * gy * (p * p - 2.0 * p * t + t) / ((p + e) ** 2 * (1.0 - p + e) ** 2)
        g_t = -(gg * gy) / den if n[2] else None
        return g_gy, g_p, g_t


def binary_cross_entropy(p: Tensor, t: Tensor) -> Tensor:
    """The elementwise binary cross-entropy of probabilities p and targets t (one shape), each
    log clamped at -100, with PyTorch's gradients (see BinaryCrossEntropy)."""
    return BinaryCrossEntropy()(p, t)
