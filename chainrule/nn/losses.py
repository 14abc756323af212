"""Loss functions: the functional forms behind the loss modules (F.mse_loss, F.cross_entropy...).

A loss first computes elementwise losses l (shaped like the input; (N, *d) for the classification
losses, one per predicted position), then reduces them as `reduction` says:

    'none'  l itself
    'sum'   sum of l
    'mean'  sum of l / the number of elements, or, where PyTorch does so for a weighted loss
            (nll_loss, cross_entropy with class indices, mse_loss and l1_loss with `weight=`),
            sum of l / sum of the weights.

Two kinds of weights, named as PyTorch names them:

    weight=         PyTorch's meaning, unchanged: per CLASS for cross_entropy and nll_loss (shape
                    (C,)); per ELEMENT for binary_cross_entropy(_with_logits) (broadcast to the
                    input) and mse_loss, l1_loss, huber_loss (the input's shape).
    sample_weight=  per EXAMPLE, shape (N,) along the first axis: the textbook's cost as a
                    weighted average of per-example losses. Every element of example i gets w_i:
                    'sum' gives sum_i w_i l_i, 'mean' gives sum_i w_i l_i / sum_i w_i, 'none' gives
                    w_i l_i, where l_i is the example's summed (for 'sum') or mean (for 'mean')
                    elementwise loss. All-ones weights give the unweighted loss; where 'mean'
                    divides by weights (above), it divides by sum_i w_i * (weights of example i).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule.backend import host_any, is_floating, may_any, xp_of
from chainrule.errors import ShapeError
from chainrule.operands import as_tensor
from chainrule.ops.elementwise import Scale, where
from chainrule.ops.losses import binary_cross_entropy as bce_elementwise
from chainrule.ops.losses import class_index, mean_softmax_cross_entropy, softmax_cross_entropy
from chainrule.ops.softmax import log_softmax
from chainrule.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


# -- shared checks and the reduction ------------------------------------------------------------
def legacy_reduction(size_average: Any, reduce: Any, reduction: str) -> str:
    """PyTorch's deprecated size_average / reduce arguments, mapped to a reduction exactly as
    PyTorch maps them (with its warning): reduce=False is 'none', else size_average=False is
    'sum', else 'mean'. Neither given: `reduction` itself."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use "
                  "reduction='...' instead.", UserWarning, stacklevel=3)
    if reduce is not None and not reduce:
        return "none"
    return "sum" if size_average is not None and not size_average else "mean"


def check_reduction(name: str, reduction: str, valid: tuple[str, ...] = REDUCTIONS) -> None:
    """Refuse an unknown reduction, listing the valid ones."""
    if reduction not in valid:
        raise ValueError(f"{name}: unknown reduction {reduction!r}; valid reductions are "
                         + ", ".join(repr(v) for v in valid))


def _input(name: str, x: Any) -> Tensor:
    x = as_tensor(x)
    if not is_floating(x.dtype):
        raise TypeError(f"{name}: the input must be a floating tensor, got {x.dtype}; convert it "
                        "first: x.astype('float32')")
    return x


def _like(value: Any, x: Tensor) -> Tensor | None:
    """A target or weight as a Tensor in the input's dtype (a float64 array never turns a float32
    loss into float64)."""
    if value is None:
        return None
    t = as_tensor(value)
    return t if t.dtype == x.dtype else t.astype(x.dtype)


def _pair(name: str, input: Any, target: Any, what: str = "target") -> tuple[Tensor, Tensor]:
    x = _input(name, input)
    t = _like(target, x)
    if x.shape != t.shape:
        hint = (f"; reshape one of them, e.g. {what}.reshape({x.shape}) (a model that outputs "
                "(N, 1) for targets (N,) is the usual cause)" if x.numel() == t.numel() else "")
        raise ShapeError(f"{name}: input shape {x.shape} and {what} shape {t.shape} differ; they "
                         f"must be equal{hint}")
    return x, t


def _fits(name: str, what: str, w: Tensor, shape: tuple, exact: bool = False) -> None:
    """w must have `shape` (exact) or broadcast to it."""
    try:
        ok = np.broadcast_shapes(w.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    ok = ok and not (exact and w.shape != tuple(shape))
    if not ok:
        rule = "have" if exact else "broadcast to"
        raise ShapeError(f"{name}: {what} of shape {w.shape} must {rule} the input's shape {shape}")


def _sample_weight(name: str, sample_weight: Any, loss: Tensor) -> Tensor:
    """sample_weight (N,) in the loss's dtype, shaped (N, 1, ..., 1) to broadcast over loss."""
    w = _like(sample_weight, loss)
    if loss.ndim == 0:
        raise ShapeError(f"{name}: sample_weight needs a batch axis, but the loss is 0-d")
    n = loss.shape[0]
    if w.shape != (n,):
        raise ShapeError(f"{name}: sample_weight must have shape (N,) = ({n},), one weight per "
                         f"example of the input's first axis, got {w.shape}")
    return w.reshape((n,) + (1,) * (loss.ndim - 1))


def reduce_loss(name: str, loss: Tensor, reduction: str, sample_weight: Any = None,
                denom: Tensor | None = None) -> Tensor:
    """Reduce elementwise losses (N, ...) as described in the module docstring. `denom` holds
    the weights 'mean' divides by (None: count the elements); 'batchmean' divides the sum by N
    (or by sum_i w_i with sample weights)."""
    per = 1
    if sample_weight is not None:
        w = _sample_weight(name, sample_weight, loss)
        loss = loss * w
        denom = None if denom is None else denom * w
        per = loss.numel() // max(loss.shape[0], 1)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if denom is not None:
        return loss.sum() / denom.sum()
    if sample_weight is not None:
        return loss.sum() / (w.sum() * (1 if reduction == "batchmean" else per))
    if reduction == "batchmean":
        return loss.sum() / (loss.shape[0] if loss.ndim else 1)
    return loss.mean()


# -- regression ---------------------------------------------------------------------------------
def mse_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
             reduction: str = "mean", weight: Any = None, *,
             half: bool = False, sample_weight: Any = None) -> Tensor:
    """Squared error (input - target)^2, elementwise, then reduced; input and target (*).

    half=True is the textbook's one-half convention: each squared error is halved, so that
    reduction='sum' gives exactly J = 1/2 ||input - target||^2 (whose gradient is input - target)
    and 'mean' gives 1/(2n) ||input - target||^2 over the n elements. `weight` (the input's shape)
    weighs elements, and 'mean' then divides by sum(weight), as in PyTorch.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("mse_loss", reduction)
    x, t = _pair("mse_loss", input, target)
    d = x - t
    loss = d * d
    if half:
        loss = loss * 0.5
    return _elementwise_weighted("mse_loss", loss, reduction, weight, sample_weight, True)


def l1_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
            reduction: str = "mean", weight: Any = None, *,
            sample_weight: Any = None) -> Tensor:
    """Absolute error |input - target|, elementwise, then reduced; input and target (*).
    `weight` (the input's shape) weighs elements; 'mean' then divides by sum(weight)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("l1_loss", reduction)
    x, t = _pair("l1_loss", input, target)
    return _elementwise_weighted("l1_loss", (x - t).abs(), reduction, weight, sample_weight, True)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0,
               weight: Any = None, *, sample_weight: Any = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), for d = input - target.
    `weight` (the input's shape) weighs elements; 'mean' still divides by the element count,
    as in PyTorch."""
    check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    x, t = _pair("huber_loss", input, target)
    d = x - t
    a = d.abs()
    loss = where(a.array < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    return _elementwise_weighted("huber_loss", loss, reduction, weight, sample_weight, False)


def smooth_l1_loss(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
                   reduction: str = "mean", beta: float = 1.0, *,
                   sample_weight: Any = None) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, for d = input - target (beta=0 is
    l1_loss). Equals huber_loss(delta=beta) / beta."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("smooth_l1_loss", reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    x, t = _pair("smooth_l1_loss", input, target)
    a = (x - t).abs()
    if beta == 0:
        return reduce_loss("smooth_l1_loss", a, reduction, sample_weight)
    d = x - t
    loss = where(a.array < beta, d * d * (0.5 / beta), a - 0.5 * beta)
    return reduce_loss("smooth_l1_loss", loss, reduction, sample_weight)


def _elementwise_weighted(name: str, loss: Tensor, reduction: str, weight: Any,
                          sample_weight: Any, mean_by_weight: bool) -> Tensor:
    if weight is None:
        return reduce_loss(name, loss, reduction, sample_weight)
    w = _like(weight, loss)
    _fits(name, "weight", w, loss.shape, exact=True)
    return reduce_loss(name, loss * w, reduction, sample_weight, w if mean_by_weight else None)


# -- binary classification ----------------------------------------------------------------------
class ProbabilityError(ValueError, RuntimeError):
    """Values outside [0, 1] (or NaN) where probabilities are required. A RuntimeError, as
    PyTorch raises, and a ValueError."""


def _check_probabilities(name: str, what: str, x: Tensor, hint: str) -> None:
    """PyTorch's check: every element of x in [0, 1] (NaN fails)."""
    a = x.array
    if a.size and host_any(~((a >= 0) & (a <= 1))):
        bad = a[~((a >= 0) & (a <= 1))]
        raise ProbabilityError(
            f"{name}: all elements of {what} should be between 0 and 1, got {bad[0].item():g} "
            f"({bad.size} of {a.size} elements outside){hint}")


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Any = None,
                         reduce: Any = None, reduction: str = "mean", *,
                         sample_weight: Any = None) -> Tensor:
    """-w [y log p + (1 - y) log(1 - p)] for probabilities p (input, any shape, in [0, 1]) and
    targets y of the same shape; each log is clamped at -100 as in PyTorch. `weight` weighs
    elements (broadcast to the input). For logits use binary_cross_entropy_with_logits."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "binary_cross_entropy"
    check_reduction(name, reduction)
    x, t = _pair(name, input, target)
    _check_probabilities(name, "input", x, "; the input must hold probabilities in [0, 1]: "
                         "for raw scores use binary_cross_entropy_with_logits")
    _check_probabilities(name, "target", t, "; targets are probabilities (labels 0 and 1)")
    loss = bce_elementwise(x, t)
    if weight is not None:
        w = _like(weight, x)
        _fits(name, "weight", w, x.shape)
        loss = loss * w
    return reduce_loss(name, loss, reduction, sample_weight)


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,
                                     size_average: Any = None, reduce: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None, *,
                                     sample_weight: Any = None) -> Tensor:
    """-w [p_w y log s(x) + (1 - y) log(1 - s(x))] with s the sigmoid, for logits x and targets y
    of the same shape, computed stably as w [(1 - y) x + (1 + (p_w - 1) y) softplus(-x)].
    `weight` weighs elements and `pos_weight` (e.g. one per class, (C,)) the positive term; both
    broadcast to the input."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "binary_cross_entropy_with_logits"
    check_reduction(name, reduction)
    x, t = _pair(name, input, target)
    sp = (-x).softplus()
    if pos_weight is None:
        loss = (1.0 - t) * x + sp
    else:
        p = _like(pos_weight, x)
        _fits(name, "pos_weight", p, x.shape)
        loss = (1.0 - t) * x + (1.0 + (p - 1.0) * t) * sp
    if weight is not None:
        w = _like(weight, x)
        _fits(name, "weight", w, x.shape)
        loss = loss * w
    return reduce_loss(name, loss, reduction, sample_weight)


# -- divergence and embedding losses ------------------------------------------------------------
def kl_div(input: Any, target: Any, size_average: Any = None, reduce: Any = None,
           reduction: str = "mean", log_target: bool = False, *,
           sample_weight: Any = None) -> Tensor:
    """KL(target || model) elementwise: target (log target - input), with `input` holding
    log-probabilities (e.g. log_softmax) and `target` probabilities (log-probabilities when
    log_target=True); 0 log 0 counts as 0. reduction='batchmean' (sum / N) is the true KL
    divergence per example; 'mean' divides by every element, as PyTorch does."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("kl_div", reduction, ("mean", "batchmean", "sum", "none"))
    x, t = _pair("kl_div", input, target)
    if log_target:
        loss = t.exp() * (t - x)
    else:
        pos = t.array > 0
        loss = where(pos, t * where(pos, t, 1.0).log(), 0.0) - t * x
    return reduce_loss("kl_div", loss, reduction, sample_weight)


def _signs(name: str, target: Any, x: Tensor, shape: tuple) -> Any:
    """A +1/-1 target as a constant array in x's dtype, checked against `shape`."""
    y = as_tensor(target).array
    if y.shape != tuple(shape):
        raise ShapeError(f"{name}: target of shape {y.shape} must have shape {tuple(shape)}")
    return y.astype(x.dtype, copy=False)


def hinge_embedding_loss(input: Any, target: Any, margin: float = 1.0, size_average: Any = None,
                         reduce: Any = None, reduction: str = "mean", *,
                         sample_weight: Any = None) -> Tensor:
    """x where y = 1 and max(0, margin - x) where y = -1, for distances x and labels y of the
    same shape (any shape), as in PyTorch."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("hinge_embedding_loss", reduction)
    x = _input("hinge_embedding_loss", input)
    y = _signs("hinge_embedding_loss", target, x, x.shape)
    loss = where(y != 1, (margin - x).clip(min=0.0), 0.0) + where(y != -1, x, 0.0)
    return reduce_loss("hinge_embedding_loss", loss, reduction, sample_weight)


def cosine_embedding_loss(input1: Any, input2: Any, target: Any, margin: float = 0.0,
                          size_average: Any = None, reduce: Any = None,
                          reduction: str = "mean", *, sample_weight: Any = None) -> Tensor:
    """1 - cos(x1, x2) where y = 1 and max(0, cos(x1, x2) - margin) where y = -1, for inputs
    (N, D) (or (D,)) and labels y (N,) (or ()), as in PyTorch."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "cosine_embedding_loss"
    check_reduction(name, reduction)
    x1, x2 = _pair(name, input1, input2, what="input2")
    if x1.ndim not in (1, 2):
        raise ShapeError(f"{name}: inputs must be (N, D) or (D,), got {x1.shape}")
    y = _signs(name, target, x1, x1.shape[:-1])
    eps = 1e-12  # PyTorch's guard against zero vectors
    sq = ((x1 * x1).sum(-1) + eps) * ((x2 * x2).sum(-1) + eps)
    cos = (x1 * x2).sum(-1) / sq.sqrt()
    loss = where(y == 1, 1.0 - cos, 0.0) + where(y == -1, (cos - margin).clip(min=0.0), 0.0)
    return reduce_loss(name, loss, reduction, sample_weight)


# -- multi-class classification ----------------------------------------------------------------
def _class_weight(name: str, weight: Any, C: int, x: Tensor) -> Any:
    if weight is None:
        return None
    w = as_tensor(weight).array.astype(x.dtype, copy=False)
    if w.shape != (C,):
        raise ShapeError(f"{name}: weight must hold one weight per class, shape ({C},), "
                         f"got {w.shape}")
    return w


def _class_targets(name: str, x: Tensor, y: Any, w: Any, ignore_index: int) -> tuple:
    """For class indices y (N, *d) of input x (N, C, *d): the index picking each target class,
    the per-position weights w[y] (0 where ignored), and the mask of positions not ignored."""
    C = x.shape[1]
    want = x.shape[:1] + x.shape[2:]
    if y.shape != want:
        raise ShapeError(f"{name}: input of shape {x.shape} (N, C, ...) needs class indices of "
                         f"shape {want} or class probabilities of shape {x.shape}; got a target "
                         f"of shape {y.shape}")
    xp = xp_of(y)
    valid = y != ignore_index
    bad = valid & ((y < 0) | (y >= C))
    if host_any(bad):
        raise IndexError(f"{name}: target class index {y[bad][0].item()} is out of range for "
                         f"C = {C} classes (valid: 0..{C - 1}, or ignore_index={ignore_index})")
    y_safe = xp.where(valid, y, 0)
    wy = valid.astype(x.dtype) if w is None else w[y_safe] * valid
    return class_index(y_safe), wy, valid


def _target_array(name: str, target: Any, x: Tensor) -> Any:
    y = target.array if isinstance(target, Tensor) else target
    y = y if hasattr(y, "dtype") and hasattr(y, "shape") else np.asarray(y)
    if y.dtype.kind == "f" and y.shape != x.shape:
        raise TypeError(f"{name}: class-index targets must be integers, got {y.dtype} of shape "
                        f"{y.shape}; convert them (target.astype('int64')), or give class "
                        f"probabilities of the input's shape {x.shape}")
    if y.dtype.kind not in "iuf":
        raise TypeError(f"{name}: target must be integer class indices or float probabilities, "
                        f"got {y.dtype}")
    return y


def _unbatch(x: Tensor, y: Any) -> tuple[Tensor, Any, bool]:
    """An unbatched input (C,) with target () or (C,) becomes a batch of one."""
    if x.ndim == 0:
        raise ShapeError("a classification loss needs an input of shape (N, C, ...) or (C,), "
                         "got a 0-d tensor")
    if x.ndim != 1:
        return x, y, False
    return x.reshape(1, -1), y.reshape((1,) + y.shape), True


def nll_loss(input: Any, target: Any, weight: Any = None, size_average: Any = None,
             ignore_index: int = -100, reduce: Any = None, reduction: str = "mean", *,
             sample_weight: Any = None) -> Tensor:
    """-w[y] * input[y] for log-probabilities input (N, C, *d) (or (C,)) and class indices
    target (N, *d) (or ()); `weight` (C,) weighs classes, positions whose target is
    ignore_index count for nothing, and 'mean' divides by the sum of w[y] over the rest."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction("nll_loss", reduction)
    x = _input("nll_loss", input)
    x, y, single = _unbatch(x, _target_array("nll_loss", target, x))
    w = _class_weight("nll_loss", weight, x.shape[1], x)
    index, wy, valid = _class_targets("nll_loss", x, y, w, ignore_index)
    loss = Scale(-wy)(x[index])
    denom = None if w is None and not may_any(~valid) else Tensor._make(wy, None)
    out = reduce_loss("nll_loss", loss, reduction, sample_weight, denom)
    return out.reshape(()) if single and reduction == "none" else out


def cross_entropy(input: Any, target: Any, weight: Any = None, size_average: Any = None,
                  ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
                  label_smoothing: float = 0.0, *, sample_weight: Any = None) -> Tensor:
    """Cross-entropy of logits input (N, C, *d) (or (C,)) against a target that holds either
    class indices (N, *d) (integers; or ()) or class probabilities (floats, the input's shape).

    Computed by a fused, stable log-softmax (chainrule.ops.losses). With indices, `weight` (C,)
    weighs classes, positions whose target is ignore_index count for nothing, and 'mean' divides
    by the sum of w[y] over the rest; with probabilities, 'mean' divides by N * d1 * ...
    label_smoothing = e mixes the target with the uniform distribution: (1 - e) y + e / C.
    Matches torch.nn.functional.cross_entropy in every combination.
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    name = "cross_entropy"
    check_reduction(name, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = _input(name, input)
    x, y, single = _unbatch(x, _target_array(name, target, x))
    C = x.shape[1]
    w = _class_weight(name, weight, C, x)
    wcol = None if w is None else w.reshape((1, C) + (1,) * (x.ndim - 2))
    if (reduction == "mean" and w is None and not label_smoothing and sample_weight is None
            and y.dtype.kind != "f" and x.ndim == 2 and y.shape == x.shape[:1] and y.size
            and not 0 <= ignore_index < C
            and not may_any((y < 0) | (y >= C))):  # on a device: the general path, no sync
        # the usual case (no weights, nothing ignored, all targets valid) in one node: faster
        return mean_softmax_cross_entropy(x, y)
    if y.dtype.kind == "f":
        loss = _soft_cross_entropy(x, target, y, wcol, label_smoothing, single)
        denom = None
    else:
        index, wy, valid = _class_targets(name, x, y, w, ignore_index)
        if label_smoothing == 0:
            loss = softmax_cross_entropy(x, coef=wy, index=index)
        else:
            a = xp_of(x.array).zeros(x.shape, dtype=x.dtype)
            a[index] = (1.0 - label_smoothing) * wy
            spread = (label_smoothing / C) * xp_of(valid).expand_dims(valid, 1)
            a += spread if wcol is None else spread * wcol
            loss = softmax_cross_entropy(x, dense=a)
        denom = None if w is None and not may_any(~valid) else Tensor._make(wy, None)
    out = reduce_loss(name, loss, reduction, sample_weight, denom)
    return out.reshape(()) if single and reduction == "none" else out


def _soft_cross_entropy(x: Tensor, target: Any, y: Any, wcol: Any, eps: float,
                        single: bool) -> Tensor:
    """-sum_c w_c q_c log_softmax(x)_c per position, q = (1 - eps) y + eps / C."""
    C = x.shape[1]
    if isinstance(target, Tensor) and target.requires_grad:
        # the target is being learned: a composite, so its gradient flows too
        q = _like(target, x).reshape(x.shape) if single else _like(target, x)
        if eps:
            q = q * (1.0 - eps) + eps / C
        if wcol is not None:
            q = q * Tensor._make(wcol, None)
        return -(q * log_softmax(x, axis=1)).sum(axis=1)
    q = y.astype(x.dtype, copy=False)
    if eps:
        q = q * (1.0 - eps) + eps / C
    return softmax_cross_entropy(x, dense=q if wcol is None else q * wcol)
