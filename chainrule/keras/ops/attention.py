"""keras.ops.dot_product_attention: scaled dot-product attention on (batch, length, heads,
head_dim) tensors, as Keras lays them out."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.keras.ops._convert import cast, convert_to_tensor, narrow, to_float
from chainrule.tensor import Tensor

_t = convert_to_tensor
_LARGE_NEGATIVE = -0.7 * 3.38953e38  # Keras' masked logit (a finite number: no NaN rows)


def dot_product_attention(query: Any, key: Any, value: Any, bias: Any = None, mask: Any = None,
                          scale: float | None = None, is_causal: bool = False,
                          flash_attention: bool | None = None,
                          attn_logits_soft_cap: float | None = None) -> Tensor:
    """softmax(q k^T * scale + bias, over the keys) v for query (B, T, N, H) and key, value
    (B, S, K, H), K dividing N (grouped-query attention); returns (B, T, N, H). scale defaults
    to 1 / sqrt(H); mask (broadcastable to (B, N, T, S)) is True where attention is allowed;
    is_causal lets query i see keys 0..i."""
    q, k, v = (narrow(to_float(_t(a))) for a in (query, key, value))
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"dot_product_attention: only 4-D inputs (batch, length, heads, "
                         f"head_dim) are supported, got query.shape={tuple(q.shape)}, "
                         f"key.shape={tuple(k.shape)}, value.shape={tuple(v.shape)}")
    if bias is not None and mask is not None:
        raise ValueError("dot_product_attention: give only one of bias and mask")
    if flash_attention:
        raise ValueError("dot_product_attention: flash_attention=True needs a GPU kernel; "
                         "leave it None")
    if attn_logits_soft_cap is not None:
        raise NotImplementedError("dot_product_attention: attn_logits_soft_cap needs flash "
                                  "attention, which chainrule does not have")
    dt = np.result_type(q.array.dtype, k.array.dtype, v.array.dtype)
    q, k, v = cast(q, dt), cast(k, dt), cast(v, dt)
    n, kv = q.shape[2], k.shape[2]
    if n > kv > 1:
        k = cr.repeat_interleave(k, n // kv, 2)
        v = cr.repeat_interleave(v, n // kv, 2)
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    logits = cr.einsum("btnh,bsnh->bnts", q, k) * s
    t_len, s_len = q.shape[1], k.shape[1]
    allowed = None if mask is None else cast(_t(mask), bool)
    if is_causal:
        tri = Tensor._make(np.tri(t_len, s_len, dtype=bool), None)
        allowed = tri if allowed is None else cr.logical_and(allowed, tri)
    if allowed is not None:
        logits = cr.where(allowed, logits, cr.full((), _LARGE_NEGATIVE, dtype=dt))
    if bias is not None:
        logits = logits + cast(_t(bias), dt)
    return cr.einsum("bnts,bsnh->btnh", cr.softmax(logits, -1), v)
