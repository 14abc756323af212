"""F.scaled_dot_product_attention: softmax(q @ k^T * scale + bias) @ v, as PyTorch defines it.

The attention core is one fused op, for speed: the composite (matmul, scale, add, softmax,
dropout, matmul) records six nodes and as many score-sized temporaries in each direction, and
the scores, of size (..., L, S), are the largest arrays of a Transformer layer. The fused
backward works on arrays in a plain backward and on differentiable Tensor ops under
create_graph=True (tests hold the two paths to each other).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd import Function, is_grad_enabled
from chainrule.backend import may_any, xp_of
from chainrule.errors import ShapeError
from chainrule.operands import as_operand, as_operands
from chainrule.ops.softmax import SoftmaxGrad, softmax
from chainrule.random import uniform_like
from chainrule.tensor import Tensor


def _swap(a: Any) -> Any:
    return a.swapaxes(-1, -2)


def _safe_softmax(s: Any) -> Any:
    """softmax over the last axis, in place; a row that is -inf throughout (a query allowed to
    see nothing) gives zeros, as PyTorch's _safe_softmax, instead of 0 / 0 = NaN."""
    xp = xp_of(s)
    m = s.max(axis=-1, keepdims=True)
    dead = m == -np.inf
    has_dead = may_any(dead)
    if has_dead:
        m[dead] = 0
    s -= m
    xp.exp(s, out=s)
    z = s.sum(axis=-1, keepdims=True)
    if has_dead:
        z[dead] = 1
    s *= 1 / z  # one division per row, a multiplication per element
    return s


class Attention(Function):
    """softmax(q @ k^T * scale + bias) [* dropout mask] @ v for q (..., L, E), k (..., S, E),
    v (..., S, Ev) and an optional additive bias broadcastable to (..., L, S); batch dims
    broadcast. `dropout` is None or (p, generator): drop weights with probability p."""

    saves = "inputs"

    def __init__(self, scale: float, dropout: tuple[float, Any] | None = None) -> None:
        self.scale, self.dropout = scale, dropout

    def forward(self, q: Any, k: Any, v: Any, *bias: Any) -> Any:
        # scale the smaller operand: q (..., L, E) rather than the scores (..., L, S)
        s = (q * q.dtype.type(self.scale)) @ _swap(k)
        if bias:
            s += bias[0]  # the caller checked that bias broadcasts to the scores' shape
        self.P = P = _safe_softmax(s)
        self.D = None
        if self.dropout is not None:
            p, g = self.dropout
            dt = P.dtype if P.dtype in (np.float32, np.float64) else np.float64
            keep = uniform_like(P.shape, dt, P, g) >= p  # where P is, as F.dropout draws
            self.D = keep * P.dtype.type(1 / (1 - p)) if p < 1 else xp_of(P).zeros(P.shape,
                                                                                    P.dtype)
            P = P * self.D
        return P @ v

    def backward(self, gy: Tensor) -> tuple:
        if is_grad_enabled():
            return self._backward_tensors(gy)
        n = self.needs_input_grad
        q, k, v = (t.array for t in self.inputs[:3])
        P, D, g = self.P, self.D, gy.array
        Pd = P if D is None else P * D
        dv = _swap(Pd) @ g if n[2] else None
        dS = None
        if n[0] or n[1] or (len(n) == 4 and n[3]):
            dP = g @ _swap(v)
            if D is not None:
                dP *= D
            dS = dP
            dS -= (dP * P).sum(axis=-1, keepdims=True)
            dS *= P  # softmax's backward: P * (dP - sum(dP * P))
        db = Tensor._make(dS, None) if len(n) == 4 and n[3] else None
        c = q.dtype.type(self.scale)  # applied to the (..., L, E) products, not to dS
        dq = Tensor._make((dS @ k) * c, None) if n[0] else None
        dk = Tensor._make(_swap(dS) @ q * c, None) if n[1] else None
        dv = None if dv is None else Tensor._make(dv, None)
        return (dq, dk, dv, db) if len(n) == 4 else (dq, dk, dv)

    def _backward_tensors(self, gy: Tensor) -> tuple:
        """The same gradients from differentiable ops (create_graph=True): P is recomputed from
        the inputs so that the gradients can be differentiated again."""
        q, k, v = self.inputs[:3]
        n = self.needs_input_grad
        s = (q @ k.transpose(-1, -2)) * self.scale
        if len(self.inputs) == 4:
            s = s + self.inputs[3]
        dead = self.P.max(axis=-1, keepdims=True) == 0  # rows that saw nothing stay zero
        if dead.any():
            live = Tensor._make((~dead).astype(self.P.dtype), None)
            P = softmax(s.masked_fill(Tensor._make(dead, None), 0.0), -1) * live
        else:
            P = softmax(s, -1)
        D = None if self.D is None else Tensor._make(self.D, None)
        Pd = P if D is None else P * D
        dv = Pd.transpose(-1, -2) @ gy if n[2] else None
        dP = gy @ v.transpose(-1, -2)
        dS = SoftmaxGrad(-1)(dP if D is None else dP * D, P)
        dq = (dS @ k) * self.scale if n[0] else None
        dk = (dS.transpose(-1, -2) @ q) * self.scale if n[1] else None
        db = dS if len(n) == 4 and n[3] else None
        return (dq, dk, dv, db) if len(n) == 4 else (dq, dk, dv)


def _check(q: Tensor, k: Tensor, v: Tensor, dropout_p: float) -> None:
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise ShapeError(f"scaled_dot_product_attention: query, key and value must be at least "
                         f"2-D (..., L, E), got shapes {q.shape}, {k.shape} and {v.shape}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(
            f"scaled_dot_product_attention: query {q.shape}, key {k.shape} and value {v.shape} "
            "do not fit: query (..., L, E), key (..., S, E) and value (..., S, Ev) must agree "
            "on E and on S")
    if not (q.dtype == k.dtype == v.dtype):
        raise RuntimeError(f"scaled_dot_product_attention: expected query, key, and value to "
                           f"have the same dtype, but got query.dtype: {q.dtype} key.dtype: "
                           f"{k.dtype} and value.dtype: {v.dtype}; convert them with .to()")
    if not 0 <= dropout_p <= 1:
        raise RuntimeError(f"scaled_dot_product_attention: dropout probability has to be "
                           f"between 0 and 1, but got {dropout_p}")


def _broadcast(a: tuple, b: tuple) -> tuple | None:
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        return None


def _bias(attn_mask: Any, is_causal: bool, q: Tensor, k: Tensor) -> Tensor | None:
    """The additive bias: 0 where a query may attend and -inf where it may not (bool masks and
    is_causal), or the float mask itself (still differentiable)."""
    L, S = q.shape[-2], k.shape[-2]
    xp, dt = xp_of(q.array), q.array.dtype
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("scaled_dot_product_attention: explicit attn_mask should not be "
                               "set when is_causal=True; pass one or the other")
        # top-left alignment: query i sees keys 0..i, as tril(ones(L, S)) in PyTorch's docs
        allowed = xp.tri(L, S, 0, dtype=bool)
        return Tensor._make(xp.where(allowed, dt.type(0), dt.type(-np.inf)), None)
    if attn_mask is None:
        return None
    m = as_operand(attn_mask)
    kind = m.array.dtype.kind
    if kind == "b":  # True = may attend (the opposite of MultiheadAttention's bool masks)
        return Tensor._make(xp.where(m.array, dt.type(0), dt.type(-np.inf)), None)
    if kind != "f":
        raise RuntimeError(f"scaled_dot_product_attention: expected attn_mask dtype to be bool "
                           f"or float, but got {m.dtype}; pass mask.bool() (True = attend) or "
                           f"an additive float mask")
    return m if m.array.dtype == dt else m.to(q.dtype)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + bias) @ value, PyTorch's F.scaled_dot_product_attention.

    query (N, ..., L, E), key (N, ..., S, E), value (N, ..., S, Ev) -> (N, ..., L, Ev).
    attn_mask broadcasts to (N, ..., L, S): bool (True = take part in attention) or float
    (added to the scores). is_causal masks key j > query i (top-left aligned when L != S) and
    excludes attn_mask. scale defaults to 1 / sqrt(E). dropout_p drops attention weights
    whenever it is > 0 (this function has no training flag: pass 0.0 in evaluation).
    enable_gqa: key and value may have fewer heads (dim -3) than query, repeated to match.
    A query row that may attend to nothing gives zeros, as in PyTorch.
    """
    q, k, v = as_operands((query, key, value))
    _check(q, k, v, dropout_p)
    if enable_gqa and q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        hq, hk, hv = q.shape[-3], k.shape[-3], v.shape[-3]
        if hq % hk or hq % hv:
            raise RuntimeError(f"scaled_dot_product_attention: number of heads in key ({hk}) "
                               f"and value ({hv}) must divide the number of heads in query "
                               f"({hq}) with enable_gqa=True")
        k = k.repeat_interleave(hq // hk, dim=-3)
        v = v.repeat_interleave(hq // hv, dim=-3)
    bias = _bias(attn_mask, is_causal, q, k)
    scores = np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (q.shape[-2], k.shape[-2])
    if bias is not None and _broadcast(scores, bias.shape) != scores:
        raise ShapeError(f"scaled_dot_product_attention: attn_mask of shape {bias.shape} does "
                         f"not broadcast to the attention scores' shape {scores}; it must "
                         "broadcast to (N, ..., L, S)")
    s = 1 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    drop = (dropout_p, None) if dropout_p > 0 else None
    op = Attention(s, drop)
    return op(q, k, v) if bias is None else op(q, k, v, bias)
