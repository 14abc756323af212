"""F.ctc_loss: the Connectionist Temporal Classification loss (Graves et al. 2006), as PyTorch
defines it: arguments, target layouts (padded (N, S) or concatenated), reductions ('mean' divides
each loss by its target length, then averages), zero_infinity, errors, and the gradient PyTorch
gives with respect to log_probs.

The forward algorithm runs in log space over the extended label sequence (blank, l1, blank, l2,
..., blank), one step per time frame, as a composite of differentiable ops: every order of
derivative comes from autograd. Impossible alignments use a large finite "log 0" (never -inf),
so no NaN leaks into the gradients of the possible ones.

PyTorch's gradient with respect to log_probs is not the plain derivative of the loss: it adds
exp(log_probs) (times the upstream gradient) at every frame t < input_length. Through a
log_softmax, the usual way in, the extra term cancels exactly (each frame's probabilities sum
to 1), so the gradient of the logits is the true one either way. chainrule adds the same term,
as a part whose value is exactly 0, so that a gradient read off log_probs is PyTorch's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import to_host, xp_of
from chainrule.errors import ShapeError
from chainrule.nn.losses import _input, check_reduction
from chainrule.nn.losses_more import TargetError
from chainrule.operands import as_tensor
from chainrule.ops.elementwise import where
from chainrule.ops.join import cat
from chainrule.tensor import Tensor


def _lengths(name: str, value: Any, n: int) -> np.ndarray:
    """input_lengths / target_lengths (a tensor, a sequence or an int) as n int64 values."""
    # the lengths schedule the loop over time steps: one explicit copy to the host
    a = np.asarray(to_host(value.array) if isinstance(value, Tensor) else value).reshape(-1)
    if a.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss: {name} must hold integers, got {a.dtype}")
    if a.size != n:
        raise ShapeError(f"ctc_loss: {name} must be of size batch_size ({n}), got {a.size} "
                         f"values")
    return a.astype(np.int64)


def _labels(targets: Any, tl: np.ndarray, n: int) -> np.ndarray:
    """The targets as a padded (N, S_max) int64 array, from PyTorch's two layouts: padded
    (N, S) and concatenated (sum(target_lengths),)."""
    y = to_host(as_tensor(targets).array)  # gathered per sample on the host: an explicit copy
    if y.dtype.kind not in "iuf":
        raise TypeError(f"ctc_loss: targets must be class indices, got {y.dtype}")
    y = y.astype(np.int64)
    if (tl < 0).any():
        raise ShapeError(f"ctc_loss: Expected target_lengths to have value at least 0, but got "
                         f"value {int(tl.min())}")
    s_max = int(tl.max()) if n else 0
    out = np.zeros((n, s_max), dtype=np.int64)
    if y.ndim == 1:  # concatenated
        if y.size != tl.sum():
            raise ShapeError(f"ctc_loss: Expected targets to have size {int(tl.sum())} at "
                             f"dimension 0 (the sum of target_lengths), but got size {y.size}")
        ends = np.cumsum(tl)
        for i, (e, k) in enumerate(zip(ends, tl)):
            out[i, :k] = y[e - k:e]
        return out
    if y.ndim != 2 or y.shape[0] != n:
        raise ShapeError(f"ctc_loss: targets must be (N, S) = ({n}, S) or concatenated "
                         f"(sum(target_lengths),), got shape {y.shape}")
    if y.shape[1] < s_max:
        raise ShapeError(f"ctc_loss: Expected tensor to have size at least {s_max} at dimension "
                         f"1, but got size {y.shape[1]} for argument #2 'targets'")
    out[:] = y[:, :s_max]
    return out


def _lse(parts: list[Tensor]) -> Tensor:
    """log(sum(exp(p))) elementwise over same-shape tensors, shifted by their (constant) max."""
    m = parts[0].array
    for p in parts[1:]:
        m = xp_of(m).maximum(m, p.array)
    mt = Tensor._make(m, None)
    total = (parts[0] - mt).exp()
    for p in parts[1:]:
        total = total + (p - mt).exp()
    return mt + total.log()


def _log_likelihood(lp: Tensor, labels: np.ndarray, il: np.ndarray, tl: np.ndarray,
                    blank: int) -> tuple[Tensor, np.ndarray]:
    """log p(labels | lp) per sample (N,) by the forward algorithm over lp (T, N, C), and
    whether each is possible (a finite log-likelihood)."""
    T, N, _ = lp.shape
    xp = xp_of(lp.array)
    neg = lp.array.dtype.type(np.finfo(lp.array.dtype).min / 8)  # "log 0", finite
    L = 2 * labels.shape[1] + 1
    ext = np.full((N, L), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    s = np.arange(L)
    inside = s[None, :] < (2 * tl + 1)[:, None]  # (N, L): the positions of each sample
    skip = np.zeros((N, L), dtype=bool)  # l'_s may follow l'_{s-2}: a label after another
    skip[:, 2:] = ext[:, 2:] != ext[:, :-2]  # one (never at the blanks, all alike)
    inside, skip = xp.asarray(inside), xp.asarray(skip)
    idx = xp.asarray(np.ascontiguousarray(np.broadcast_to(ext, (T, N, L))))
    e = lp.gather(2, Tensor._make(idx, None))  # (T, N, L): log-prob of each position's label
    e = where(e.array > neg, e, neg)
    frames = e.unbind(0) if T else ()
    fill1 = Tensor._make(xp.full((N, 1), neg, dtype=lp.array.dtype), None)
    fill2 = Tensor._make(xp.full((N, 2), neg, dtype=lp.array.dtype), None)
    alpha = where(inside & xp.asarray(s < 2)[None, :], frames[0], neg) if T else None
    for t in range(1, T):
        parts = [alpha, cat([fill1, alpha[:, :-1]], 1)]
        if L >= 3:
            parts.append(where(skip, cat([fill2, alpha[:, :-2]], 1), neg))
        new = _lse(parts) + frames[t]
        new = where(inside & (new.array > neg), new, neg)
        alpha = where(xp.asarray(t < il)[:, None], new, alpha)
    if T == 0:  # no frame at all: only empty targets are possible
        return (Tensor._make(xp.where(xp.asarray(tl == 0), 0.0, neg).astype(lp.array.dtype),
                             None), xp.asarray(tl == 0))
    last = xp.asarray(np.stack([2 * tl, np.maximum(2 * tl - 1, 0)], 1))  # (N, 2)
    ends = alpha.gather(1, Tensor._make(last, None))
    ends = where(xp.asarray(np.stack([tl >= 0, tl > 0], 1)), ends, neg)
    ll = _lse([ends[:, 0], ends[:, 1]])
    empty = xp.asarray(il == 0)  # no frame: only an empty target is possible, with p = 1
    ll = where(empty, xp.where(xp.asarray(tl == 0), 0.0, neg).astype(lp.array.dtype), ll)
    return ll, ll.array > neg / 2


def ctc_loss(log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """-log p(target | log_probs) summed over every alignment, for log_probs (T, N, C) (a
    log_softmax over C classes; or (T, C) unbatched), targets padded (N, S) or concatenated,
    input_lengths (N,) <= T and target_lengths (N,). 'mean' divides each loss by its target
    length (at least 1), then averages over the batch; an impossible alignment gives inf, or 0
    with zero_infinity=True."""
    name = "ctc_loss"
    check_reduction(name, reduction)
    lp = _input(name, log_probs)
    if lp.ndim not in (2, 3):
        raise ShapeError(f"{name}: log_probs must be (T, N, C) or unbatched (T, C), got shape "
                         f"{tuple(lp.shape)}")
    batched = lp.ndim == 3
    lp3 = lp if batched else lp.unsqueeze(1)
    T, N, C = lp3.shape
    if not 0 <= blank < C:
        raise TargetError(f"{name}: blank must be in label range [0, {C}), got {blank}")
    il = _lengths("input_lengths", input_lengths, N)
    tl = _lengths("target_lengths", target_lengths, N)
    if (il < 0).any() or (il > T).any():
        raise ShapeError(f"{name}: Expected input_lengths to have values in [0, {T}] (the "
                         f"length T of log_probs), got {il.tolist()}")
    labels = _labels(targets, tl, N)
    ll, possible = _log_likelihood(lp3, labels, il, tl, blank)
    xp = xp_of(lp3.array)
    frames = xp.asarray(np.arange(T)[:, None] < il[None, :])[:, :, None]  # (T, N, 1)
    extra = (lp3.exp() * Tensor._make(frames.astype(lp3.array.dtype), None)).sum((0, 2))
    nll = -ll + (extra - extra.detach())  # value 0; gradient exp(log_probs), as PyTorch's
    nll = where(possible, nll, 0.0 if zero_infinity else float("inf"))
    if reduction == "mean":
        per = Tensor._make(xp.asarray(np.maximum(tl, 1)).astype(lp3.array.dtype), None)
        return (nll / per).mean()
    if reduction == "sum":
        return nll.sum()
    return nll if batched else nll.reshape(())
