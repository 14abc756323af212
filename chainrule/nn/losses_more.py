"""More loss functions, as PyTorch defines them: ranking and embedding losses (margin_ranking_loss,
triplet_margin_loss, triplet_margin_with_distance_loss), margin classification losses
(soft_margin_loss, multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss) and
likelihood losses (poisson_nll_loss, gaussian_nll_loss).

Each is a composite of differentiable ops, so it is differentiable to every order. The hinges
follow PyTorch's subgradients at the kink (hinge = 0): those written with clamp_min in PyTorch
(margin ranking, triplet) pass the gradient there; those PyTorch's kernels test with z > 0
(multi_margin, multilabel_margin) do not. Arguments, defaults, the legacy size_average / reduce
slots and the reductions are PyTorch's, with chainrule's per-example `sample_weight=` as in
chainrule.nn.losses.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from chainrule.autograd import Function
from chainrule.backend import host_any, index_range, xp_of
from chainrule.errors import ShapeError
from chainrule.nn.losses import (
    _input,
    _like,
    check_reduction,
    legacy_reduction,
    reduce_loss,
)
from chainrule.operands import as_tensor
from chainrule.ops.distance import pairwise_distance
from chainrule.ops.elementwise import clamp_min, minimum, where
from chainrule.ops.special import logsigmoid
from chainrule.tensor import Tensor


class TargetError(IndexError, RuntimeError):
    """A class index out of range (PyTorch raises RuntimeError; Python's habit is IndexError)."""


class TargetTypeError(TypeError, RuntimeError):
    """Class indices of a non-integer dtype (PyTorch raises RuntimeError)."""


def _same_ndim(what: str, names: tuple[str, ...], *xs: Tensor) -> None:
    if len({x.ndim for x in xs}) > 1:
        got = ", ".join(f"{n} {tuple(x.shape)}" for n, x in zip(names, xs))
        raise ShapeError(f"{what}: all input tensors should have the same number of dimensions, "
                         f"got {got}; reshape them to match")


# -- ranking and embedding ---------------------------------------------------------------------
def margin_ranking_loss(input1: Any, input2: Any, target: Any, margin: float = 0,
                        size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                        *, sample_weight: Any = None) -> Tensor:
    """max(0, -y (x1 - x2) + margin) for scores x1, x2 and labels y = +1 (x1 should rank higher)
    or -1, all of one number of dims and broadcast together."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "margin_ranking_loss"
    check_reduction(name, reduction)
    x1 = _input(name, input1)
    x2, y = _like(input2, x1), _like(target, x1)
    _same_ndim(name, ("input1", "input2", "target"), x1, x2, y)
    loss = clamp_min(-y * (x1 - x2) + margin, 0.0)
    return reduce_loss(name, loss, reduction, sample_weight)


def _triplet(name: str, anchor: Any, positive: Any, negative: Any,
             distance: Callable[[Any, Any], Tensor], margin: float, swap: bool) -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)), with d(a, n) replaced by min(d(a, n), d(p, n)) when
    swap (Balntas et al. 2016)."""
    a = _input(name, anchor)
    p, n = _like(positive, a), _like(negative, a)
    if len({a.ndim, p.ndim, n.ndim}) > 1:
        raise ShapeError(f"{name}: The anchor, positive, and negative tensors are expected to "
                         f"have the same number of dimensions, but got: anchor {a.ndim}D, "
                         f"positive {p.ndim}D, and negative {n.ndim}D inputs")
    d_pos, d_neg = distance(a, p), distance(a, n)
    if swap:
        d_neg = minimum(d_neg, distance(p, n))
    return clamp_min(margin + d_pos - d_neg, 0.0)


def triplet_margin_loss(anchor: Any, positive: Any, negative: Any, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                        *, sample_weight: Any = None) -> Tensor:
    """max(0, margin + ||a - p + eps||_p - ||a - n + eps||_p) per triplet, for embeddings
    (N, D) (or (D,)), norms over the last dim; swap uses min(d(a, n), d(p, n))."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "triplet_margin_loss"
    check_reduction(name, reduction)
    if margin <= 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")

    def distance(x1: Tensor, x2: Tensor) -> Tensor:
        return pairwise_distance(x1, x2, p, eps)

    loss = _triplet(name, anchor, positive, negative, distance, margin, swap)
    return reduce_loss(name, loss, reduction, sample_weight)


def triplet_margin_with_distance_loss(anchor: Any, positive: Any, negative: Any, *,
                                      distance_function: Callable[[Any, Any], Tensor] | None
                                      = None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean",
                                      sample_weight: Any = None) -> Tensor:
    """triplet_margin_loss with any distance_function(x1, x2) -> distances (default:
    F.pairwise_distance)."""
    name = "triplet_margin_with_distance_loss"
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"{name}: margin must be greater than 0, got {margin}")
    distance = pairwise_distance if distance_function is None else distance_function
    loss = _triplet(name, anchor, positive, negative, distance, margin, swap)
    return reduce_loss(name, loss, reduction, sample_weight)


# -- margin classification -------------------------------------------------------------------
def soft_margin_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
                     reduction: str = "mean", *, sample_weight: Any = None) -> Tensor:
    """log(1 + exp(-y x)) elementwise, for scores x and labels y = +1 / -1 (broadcast to x's
    shape). Not differentiable in the target, as in PyTorch."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "soft_margin_loss"
    check_reduction(name, reduction)
    x = _input(name, input)
    if isinstance(target, Tensor) and target.requires_grad:
        raise RuntimeError(f"{name}: the loss is not differentiable with respect to the target, "
                           "which requires grad; pass target.detach()")
    y = _like(target, x)
    if _broadcast(y.shape, x.shape) != tuple(x.shape):
        raise ShapeError(f"{name}: target of shape {y.shape} does not broadcast to the input's "
                         f"shape {x.shape}")
    loss = (-x * y).exp().log1p()
    return reduce_loss(name, loss, reduction, sample_weight)


def _broadcast(a: tuple, b: tuple) -> tuple | None:
    try:
        return tuple(np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        return None


def multilabel_soft_margin_loss(input: Any, target: Any, weight: Any = None,
                                size_average: Any = None, reduce: Any = None,
                                reduction: str = "mean", *, sample_weight: Any = None) -> Tensor:
    """-mean over classes C (the last dim) of w [y log s(x) + (1 - y) log s(-x)], s the sigmoid,
    for scores x (N, C) and 0/1 targets y of x's shape; `weight` (C,) weighs classes."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "multilabel_soft_margin_loss"
    check_reduction(name, reduction)
    x = _input(name, input)
    if x.ndim == 0:
        raise ShapeError(f"{name}: expected an input of shape (N, C) or (C,), got a 0-d tensor")
    y = _like(target, x)
    loss = -(y * logsigmoid(x) + (1 - y) * logsigmoid(-x))
    if weight is not None:
        loss = loss * _like(weight, x)
    loss = loss.sum(-1) / x.shape[-1]
    return reduce_loss(name, loss, reduction, sample_weight)


def _class_indices(name: str, target: Any) -> Any:
    """Integer class indices as an int64 array."""
    y = as_tensor(target).array
    if y.dtype.kind not in "iu":
        raise TargetTypeError(f"{name}: expected class indices of an integer dtype (int64), got "
                              f"{y.dtype}; convert them first: target.long()")
    return y.astype(np.int64, copy=False)


def _frames(name: str, x: Tensor) -> Tensor:
    """x (N, C), (C,) or () as (N, C), refusing other ranks and an empty class dim."""
    if x.ndim > 2 or (x.ndim >= 1 and x.shape[-1] == 0):
        raise ShapeError(f"{name}: expected a non-empty (C,) or (N, C) input (the batch may be "
                         f"empty), got shape {tuple(x.shape)}")
    return x.reshape(-1, 1 if x.ndim == 0 else x.shape[-1])


def multi_margin_loss(input: Any, target: Any, p: int = 1, margin: float = 1.0,
                      weight: Any = None, size_average: Any = None, reduce: Any = None,
                      reduction: str = "mean", *, sample_weight: Any = None) -> Tensor:
    """sum over classes i != y of w[y] max(0, margin - x[y] + x[i])^p / C per sample, for scores
    x (N, C) (or (C,)) and class indices y (N,) (or ()); p is 1 or 2. The gradient is 0 at the
    kink, as in PyTorch's kernel."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "multi_margin_loss"
    check_reduction(name, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and as_tensor(weight).ndim != 1:
        raise ValueError("weight must be one-dimensional")
    x = _input(name, input)
    x2 = _frames(name, x)
    n, C = x2.shape
    y = _class_indices(name, target)
    if (x.ndim == 2 and y.shape != (n,)) or (x.ndim < 2 and (y.ndim > 1 or y.size != 1)):
        raise ShapeError(f"{name}: target tensor should be 1-D with size equal to the number of "
                         f"input samples (batch size). Expected target size [{n}], but got "
                         f"{list(y.shape)}. Input shape: {list(x.shape)}")
    lo, hi = index_range(y)
    if lo < 0 or hi >= C:
        raise TargetError(f"{name}: target out of range: class indices must lie in [0, {C}), "
                          f"got values in [{lo}, {hi}]")
    xp = xp_of(x2.array)
    y = xp.asarray(y.reshape(n, 1))
    xy = x2.gather(1, Tensor._make(y, None))
    z = (margin - xy) + x2  # (N, C)
    mask = (z.array > 0) & (xp.arange(C) != y)  # PyTorch's kernel: z > 0, class i != y
    h = where(mask, z if p == 1 else z * z, 0.0)
    if weight is not None:
        w = _like(weight, x).array
        if w.shape != (C,):
            raise ShapeError(f"{name}: inconsistent weight size, expected {C} but got "
                             f"{list(w.shape)}")
        h = h * w[y]  # (N, 1): the weight of each sample's target class
    loss = h.sum(1) / C
    loss = loss if x.ndim == 2 else loss.reshape(as_tensor(target).shape)
    return reduce_loss(name, loss, reduction, sample_weight)


def multilabel_margin_loss(input: Any, target: Any, size_average: Any = None,
                           reduce: Any = None, reduction: str = "mean", *,
                           sample_weight: Any = None) -> Tensor:
    """sum over target classes j and non-target classes i of max(0, 1 - (x[j] - x[i])) / C per
    sample, for scores x (N, C) (or (C,)) and targets (N, C) holding each sample's class
    indices, ended by the first -1 (a repeated index counts again). The gradient is 0 at the
    kink, as in PyTorch's kernel."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "multilabel_margin_loss"
    check_reduction(name, reduction)
    x = _input(name, input)
    x2 = _frames(name, x)
    n, C = x2.shape
    t = _class_indices(name, target)
    if (x.ndim == 2 and t.shape != x.shape) or (x.ndim < 2 and (t.ndim > 1 or t.size != C)):
        raise ShapeError(f"{name}: inconsistent target size: {list(t.shape)} for input of size: "
                         f"{list(x.shape)}")
    lo, hi = index_range(t)
    if lo < -1 or hi >= C:
        raise TargetError(f"{name}: argument #2 'target' is out of range: class indices must "
                          f"lie in [0, {C}) or be -1 (the end of a sample's list)")
    xp = xp_of(x2.array)
    t = xp.asarray(t.reshape(n, C))
    valid = xp.cumprod(t >= 0, axis=1).astype(bool)  # the indices before the first -1
    k = valid.sum(1).max().item() if n else 0  # a shape: an explicit host copy
    t, valid = t[:, :k], valid[:, :k]
    safe = xp.where(valid, t, 0)
    is_target = xp.zeros((n, C), dtype=bool)
    is_target[xp.nonzero(valid)[0], safe[valid]] = True
    xt = x2.gather(1, Tensor._make(safe, None))  # (N, K): the score of each listed target
    z = (1 - xt).unsqueeze(2) + x2.unsqueeze(1)  # (N, K, C)
    mask = valid[:, :, None] & ~is_target[:, None, :] & (z.array > 0)
    loss = where(mask, z, 0.0).sum((1, 2)) / C
    loss = loss if x.ndim == 2 else loss.reshape(())
    return reduce_loss(name, loss, reduction, sample_weight)


# -- likelihoods -------------------------------------------------------------------------------
def poisson_nll_loss(input: Any, target: Any, log_input: bool = True, full: bool = False,
                     size_average: Any = None, eps: float = 1e-8, reduce: Any = None,
                     reduction: str = "mean", *, sample_weight: Any = None) -> Tensor:
    """Negative log-likelihood of target ~ Poisson(rate): exp(x) - t x for a log-rate x
    (log_input=True), else x - t log(x + eps) for a rate x. full adds Stirling's term
    t log t - t + log(2 pi t) / 2 where t > 1."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "poisson_nll_loss"
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    x = _input(name, input)
    t = _like(target, x)
    loss = x.exp() - t * x if log_input else x - t * (x + eps).log()
    if full:
        small = t.array <= 1
        ts = where(small, 1.0, t)  # log only sees t > 1: no -inf, no NaN in the gradient
        stirling = ts * ts.log() - ts + 0.5 * (2 * math.pi * ts).log()
        loss = loss + where(small, 0.0, stirling)
    return reduce_loss(name, loss, reduction, sample_weight)


class _ClampedVar(Function):
    """max(var, eps) in value, the identity in gradient: PyTorch clamps a clone of var in place
    under no_grad, so the gradient reaches var unchanged, even where the clamp holds."""

    saves = ""

    def __init__(self, eps: float) -> None:
        self.eps = eps

    def forward(self, v: Any) -> Any:
        return xp_of(v).maximum(v, v.dtype.type(self.eps))

    def backward(self, gy: Tensor) -> Tensor:
        return gy


def gaussian_nll_loss(input: Any, target: Any, var: Any, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean", *,
                      sample_weight: Any = None) -> Tensor:
    """0.5 (log(max(var, eps)) + (x - t)^2 / max(var, eps)) (+ 0.5 log(2 pi) when full), the
    negative log-likelihood of target t under N(input, var). var has the input's shape, or one
    dim fewer (one variance per sample: (N,) for (N, D)), or the input's rank with exactly one
    dim of size 1 where the input's is not; or var is a float."""
    name = "gaussian_nll_loss"
    x = _input(name, input)
    t = _like(target, x)
    if isinstance(var, float):
        if var < 0:
            raise ValueError(f"{name}: var has negative entry/entries ({var})")
        v = Tensor._make(xp_of(x.array).full(x.shape, var, dtype=x.array.dtype), None)
    elif isinstance(var, (bool, int)):
        raise TypeError(f"{name}: var must be a Tensor or a float, got {type(var).__name__} "
                        f"{var!r}; write {float(var)!r}")
    else:
        v = _like(var, x)
        if host_any(v.array < 0):
            raise ValueError(f"{name}: var has negative entry/entries")
    v = _var_shape(name, v, x)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not valid")
    v = _ClampedVar(eps)(v)
    d = x - t
    loss = 0.5 * (v.log() + d * d / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(name, loss, reduction, sample_weight)


def _var_shape(name: str, v: Tensor, x: Tensor) -> Tensor:
    """PyTorch's rules (2.x): var of the input's shape; or of its shape without the last dim
    (unsqueezed to broadcast); or of its rank with mismatched dims whose var sizes sum to 1."""
    if v.shape == x.shape:
        return v
    if tuple(x.shape[:-1]) == tuple(v.shape):
        return v.unsqueeze(-1)
    if v.ndim == x.ndim and sum(b for a, b in zip(x.shape, v.shape) if a != b) == 1:
        return v
    raise ValueError(f"{name}: var is of incorrect size: {tuple(v.shape)} for an input of shape "
                     f"{tuple(x.shape)}; give one variance per element {tuple(x.shape)}, one "
                     f"per sample {tuple(x.shape[:-1])}, or a float")
