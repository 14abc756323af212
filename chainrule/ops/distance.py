"""Distances and normalisation, composed of norms as PyTorch composes them: cdist (all pairs of
rows), F.pairwise_distance, F.cosine_similarity and F.normalize. Their gradients are those of
the norms inside: 0 where a distance or a norm is 0, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import may_any, xp_of
from chainrule.dtypes import default_float, result_type
from chainrule.errors import ShapeError
from chainrule.operands import as_operand
from chainrule.ops.elementwise import astype, clamp_min, where
from chainrule.ops.norms import norm, vector_norm
from chainrule.tensor import Tensor

_MODES = {"use_mm_for_euclid_dist_if_necessary": 0, "use_mm_for_euclid_dist": 1,
          "donot_use_mm_for_euclid_dist": 2}


class EuclideanDist(Function):
    """Euclidean distances between the rows of x1 (..., P, M) and x2 (..., R, M) from one
    matrix product, [-2 x1, |x1|^2, 1] @ [x2, 1, |x2|^2]^T, as PyTorch's fast path computes them
    (less exact for nearby points, far cheaper in time and memory). Fused to use PyTorch's
    gradient formula, 0 where a distance is 0."""

    saves = "inputs out"

    def forward(self, x1: Any, x2: Any) -> Any:
        xp = xp_of(x1, x2)
        n1 = (x1 * x1).sum(-1, keepdims=True)
        n2 = (x2 * x2).sum(-1, keepdims=True)
        a = xp.concatenate([x1 * -2, n1, xp.ones_like(n1)], -1)
        b = xp.concatenate([x2, xp.ones_like(n2), n2], -1)
        return xp.sqrt(xp.maximum(a @ xp.swapaxes(b, -1, -2), 0))

    def backward(self, gy: Tensor) -> tuple:
        x1, x2 = self.inputs
        res = self.output
        zero = res.array == 0
        ratio = where(zero, 0.0, gy / where(zero, 1.0, res)) if may_any(zero) else gy / res
        n = self.needs_input_grad
        g1 = x1 * ratio.sum(-1, keepdim=True) - ratio @ x2 if n[0] else None
        g2 = x2 * ratio.sum(-2).unsqueeze(-1) - ratio.mT @ x1 if n[1] else None
        return g1, g2


def cdist(x1: Any, x2: Any, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """The p-norm distance between each row of x1 (..., P, M) and each row of x2 (..., R, M):
    shape (..., P, R), batch dims broadcast. For p = 2 with more than 25 rows on either side
    (compute_mode's default) it uses a matrix product, as PyTorch does."""
    a, b = as_operand(x1), as_operand(x2)
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError(f"cdist only supports at least 2D tensors, X1 got: {a.ndim}D, X2 got: "
                         f"{b.ndim}D")
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"X1 and X2 must have the same number of columns. X1: {a.shape[-1]} "
                         f"X2: {b.shape[-1]}")
    for t, name in ((a, "X1"), (b, "X2")):
        if t.array.dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{t.dtype}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    if compute_mode not in _MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    mode = _MODES[compute_mode]
    r1, r2 = a.shape[-2], b.shape[-2]
    if p == 2 and (mode == 1 or (mode == 0 and (r1 > 25 or r2 > 25))):
        return EuclideanDist()(a, b)
    return vector_norm(a.unsqueeze(-2) - b.unsqueeze(-3), p, -1)


def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """The p-norm of x1 - x2 + eps over the last dim (inputs broadcast), as PyTorch computes
    it."""
    a, b = as_operand(x1), as_operand(x2)
    d = a - b + eps
    if d.array.dtype.kind not in "fc":
        d = astype(d, default_float())
    return norm(d, p, -1 if d.ndim else None, keepdim)


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / (max(|x1|, eps) * max(|x2|, eps)) over dim (inputs broadcast), each input
    divided by its own norm first (PyTorch's stable form). The clamp to eps changes the values
    but not the gradient, as in PyTorch, which clamps outside autograd."""
    a, b = as_operand(x1), as_operand(x2)
    dt = result_type(a, b)
    if np.dtype(dt).kind != "f":
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is "
                           f"{dt}")
    if eps < 0:
        raise RuntimeError(f"eps must be non-negative, got: {eps}")
    a, b = astype(a, dt), astype(b, dt)
    shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    a = a if tuple(a.shape) == shape else a.expand(shape)
    b = b if tuple(b.shape) == shape else b.expand(shape)
    na = _clamped_norm(a, dim, eps)
    nb = _clamped_norm(b, dim, eps)
    return ((a / na) * (b / nb)).sum(dim)


def _clamped_norm(x: Tensor, dim: int, eps: float) -> Tensor:
    """vector_norm(x, 2, dim, keepdim=True) with its values raised to eps, its gradient
    unchanged (PyTorch clamps in place under no_grad)."""
    n = vector_norm(x, 2, dim, True)
    lift = np.maximum(n.array, n.array.dtype.type(eps)) - n.array
    return n + Tensor._make(lift, None) if may_any(lift) else n


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Any = None) -> Tensor:
    """input / max(norm(input, p, dim), eps), the norm kept over dim and broadcast."""
    if out is not None:
        raise TypeError("normalize: out= is not supported; assign the result instead")
    x = as_operand(input)
    denom = clamp_min(norm(x, p, dim, keepdim=True), eps).expand_as(x)
    return x / denom
