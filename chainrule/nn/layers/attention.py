"""Multi-head attention: nn.MultiheadAttention and F.multi_head_attention_forward, as PyTorch 2.x.

PyTorch transposes batch_first inputs to (L, N, E), computes in (N * H, L, D) and transposes
back; here the heads are split straight from either layout into (N, H, L, D), which is the same
arithmetic with fewer copies. The attention core is F.scaled_dot_product_attention when the
weights are not needed, else the explicit softmax whose weights are returned.

Masks follow MultiheadAttention's convention (bool True = may NOT attend, floats are added),
the opposite of scaled_dot_product_attention's bool masks.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule.backend import xp_of
from chainrule.errors import ShapeError
from chainrule.nn import init
from chainrule.nn.layers.linear import Linear, _empty, dropout, linear
from chainrule.nn.layers.sdpa import scaled_dot_product_attention
from chainrule.nn.module import Module, Parameter
from chainrule.operands import as_operand
from chainrule.ops.join import cat, pad
from chainrule.tensor import Tensor


class AttentionError(ShapeError, AssertionError):
    """Bad shapes or mask types given to multi-head attention: an AssertionError where PyTorch
    raises one, and a chainrule ShapeError."""


class NonDynamicallyQuantizableLinear(Linear):
    """MultiheadAttention.out_proj's class in PyTorch (the name only matters to PyTorch's
    quantization): a Linear."""


def _canonical_mask(mask: Any, mask_name: str, other_type: Any, other_name: str,
                    target: Tensor, check_other: bool = True) -> Tensor | None:
    """A bool mask (True = masked) as an additive float mask (-inf where masked) of target's
    dtype; a float mask unchanged (so it stays differentiable)."""
    if mask is None:
        return None
    m = as_operand(mask)
    kind = m.array.dtype.kind
    if kind not in "bf":
        raise AttentionError(f"only bool and floating types of {mask_name} are supported, got "
                             f"{m.dtype}; pass mask.bool() (True = masked) or an additive float "
                             "mask")
    if check_other and other_type is not None and m.array.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use "
                      "same type for both instead.", UserWarning, stacklevel=3)
    if kind == "b":
        dt = target.array.dtype
        return Tensor._make(xp_of(m.array).where(m.array, dt.type(-np.inf), dt.type(0)), None)
    return m


def _dtype_of(mask: Any) -> Any:
    return None if mask is None else as_operand(mask).array.dtype


def _shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any,
                 attn_mask: Any, num_heads: int) -> bool:
    """True for batched (3-D) inputs, False for unbatched (2-D) ones; PyTorch's checks."""
    q, k, v = query.ndim, key.ndim, value.ndim
    kpm = None if key_padding_mask is None else as_operand(key_padding_mask)
    am = None if attn_mask is None else as_operand(attn_mask)
    if q not in (2, 3):
        raise AttentionError(f"query should be unbatched 2D or batched 3D tensor but received "
                             f"{q}-D query tensor of shape {query.shape}")
    kind = "batched (3-D)" if q == 3 else "unbatched (2-D)"
    if k != q or v != q:
        raise AttentionError(f"For {kind} `query`, expected `key` and `value` to be {q}-D but "
                             f"found {k}-D and {v}-D tensors respectively")
    if kpm is not None and kpm.ndim != q - 1:
        raise AttentionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{q - 1}-D but found {kpm.ndim}-D tensor instead")
    if am is not None and am.ndim not in (2, 3):
        raise AttentionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or "
                             f"3-D but found {am.ndim}-D tensor instead")
    if q == 2 and am is not None and am.ndim == 3:
        expected = (num_heads, query.shape[0], key.shape[0])
        if tuple(am.shape) != expected:
            raise AttentionError(f"Expected `attn_mask` shape to be {expected} but got "
                                 f"{tuple(am.shape)}")
    return q == 3


def _heads(x: Tensor, parts: int, H: int, bf: bool) -> tuple[Tensor, ...]:
    """(T1, T2, parts * E) in token layout ((L, N) or, batch first, (N, L)) -> `parts` tensors
    (N, H, T, E / H)."""
    T1, T2 = x.shape[:2]
    if parts == 1:
        y = x.reshape(T1, T2, H, -1)
        return (y.permute(0, 2, 1, 3) if bf else y.permute(1, 2, 0, 3),)
    y = x.reshape(T1, T2, parts, H, -1)
    return (y.permute(2, 0, 3, 1, 4) if bf else y.permute(2, 1, 3, 0, 4)).unbind(0)


def _project(query: Tensor, key: Tensor, value: Tensor, W: Tensor | None, b: Tensor | None,
             separate: tuple | None, E: int, H: int, bf: bool, split: bool) -> tuple:
    """q, k, v after the input projections: split into heads (N, H, T, D) when `split`, else in
    token layout. One matmul for self-attention, two when key is value, as PyTorch."""
    if separate is not None:
        bq, bk, bv = (None,) * 3 if b is None else b.chunk(3)
        qkv = (linear(query, separate[0], bq), linear(key, separate[1], bk),
               linear(value, separate[2], bv))
    elif key is value and query is key:
        proj = linear(query, W, b)
        if split:
            return _heads(proj, 3, H, bf)
        qkv = proj.chunk(3, -1)
    elif key is value:
        wq, wkv = W.split([E, 2 * E])
        bq, bkv = (None, None) if b is None else b.split([E, 2 * E])
        q, kv = linear(query, wq, bq), linear(key, wkv, bkv)
        if split:
            return (_heads(q, 1, H, bf)[0], *_heads(kv, 2, H, bf))
        qkv = (q, *kv.chunk(2, -1))
    else:
        ws, bs = W.chunk(3), (None,) * 3 if b is None else b.chunk(3)
        qkv = tuple(linear(x, w, bb) for x, w, bb in zip((query, key, value), ws, bs))
    return tuple(_heads(x, 1, H, bf)[0] for x in qkv) if split else qkv


def _masks(query: Tensor, key_padding_mask: Any, attn_mask: Any, need_weights: bool,
           is_causal: bool) -> tuple[Tensor | None, Tensor | None, bool]:
    """Both masks as float (or None) and the causal hint, as PyTorch resolves them: with
    is_causal and neither weights nor a padding mask, attn_mask is dropped for the causal
    kernel (is_causal is a promise that attn_mask is causal)."""
    kpm = _canonical_mask(key_padding_mask, "key_padding_mask", _dtype_of(attn_mask),
                          "attn_mask", query)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and kpm is None and not need_weights:
        return None, None, True
    am = _canonical_mask(attn_mask, "attn_mask", None, "", query, check_other=False)
    return kpm, am, is_causal and kpm is None


def _attn_mask_4d(am: Tensor | None, N: int, H: int, L: int, S: int) -> Tensor | None:
    """attn_mask (L, S) or (N * H, L, S) -> broadcastable to (N, H, L, S)."""
    if am is None:
        return None
    if am.ndim == 2:
        if tuple(am.shape) != (L, S):
            raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(am.shape)}, but should "
                               f"be {(L, S)}.")
        return am.reshape(1, 1, L, S)
    if tuple(am.shape) != (N * H, L, S):
        raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(am.shape)}, but should be "
                           f"{(N * H, L, S)}.")
    return am.reshape(N, H, L, S)


def _pad_masks(kpm: Tensor | None, am: Tensor | None) -> tuple:
    """One more key (bias_k or the zero key) that every query may attend."""
    return (None if kpm is None else pad(kpm, [(0, 0), (0, 1)]),
            None if am is None else pad(am, [(0, 0)] * (am.ndim - 1) + [(0, 1)]))


def _static(t: Tensor, N: int, H: int, D: int, name: str) -> Tensor:
    """static_k / static_v (N * H, S, D) -> (N, H, S, D)."""
    if t.shape[0] != N * H or t.shape[2] != D:
        raise AttentionError(f"expecting {name} of shape ({N * H}, S, {D}), but got "
                             f"{tuple(t.shape)}")
    return t.reshape(N, H, t.shape[1], D)


def _with_extra_keys(q: Any, k: Any, v: Any, bias_k: Any, bias_v: Any, add_zero_attn: bool,
                     static_k: Any, static_v: Any, kpm: Any, am: Any, H: int, bf: bool) -> tuple:
    """Split q, k, v (token layout) into heads, appending bias_k / bias_v as one more key (before
    the split) and a zero key (after it), or taking static_k / static_v; the masks grow with the
    keys."""
    ax = 0 if bf else 1
    N = q.shape[ax]
    if (bias_k is None) != (bias_v is None):
        raise AttentionError("bias_k and bias_v must be given together")
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise AttentionError("bias cannot be added to static key or value.")
        shape = (N, 1, k.shape[2]) if bf else (1, N, k.shape[2])
        k = cat([k, bias_k.reshape(1, 1, -1).expand(*shape)], 1 - ax)
        v = cat([v, bias_v.reshape(1, 1, -1).expand(*shape)], 1 - ax)
        kpm, am = _pad_masks(kpm, am)
    D = q.shape[2] // H
    q = _heads(q, 1, H, bf)[0]
    k = _heads(k, 1, H, bf)[0] if static_k is None else _static(static_k, N, H, D, "static_k")
    v = _heads(v, 1, H, bf)[0] if static_v is None else _static(static_v, N, H, D, "static_v")
    if add_zero_attn:
        k = cat([k, k.new_zeros((N, H, 1, D))], 2)
        v = cat([v, v.new_zeros((N, H, 1, v.shape[3]))], 2)
        kpm, am = _pad_masks(kpm, am)
    return q, k, v, kpm, am


def _merge_padding(kpm: Tensor | None, am: Tensor | None, N: int, S: int) -> Tensor | None:
    """attn_mask (broadcastable to (N, H, L, S)) plus the padding mask (N, S) as (N, 1, 1, S)."""
    if kpm is None:
        return am
    if kpm.shape[0] != N or kpm.shape[1] != S:
        raise AttentionError(f"Expected key_padded_mask.shape to be ({N}, {S}) (batch, source "
                             f"length), but got {tuple(kpm.shape)}")
    kpm = kpm.reshape(N, 1, 1, S)
    return kpm if am is None else am + kpm


def _weights_path(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None,
                  dropout_p: float) -> tuple[Tensor, Tensor]:
    """PyTorch's need_weights=True path: explicit softmax weights (N, H, L, S), returned after
    dropout; a query that may attend to nothing gives NaN there, as in PyTorch."""
    s = (q * math.sqrt(1.0 / q.shape[-1])) @ k.transpose(-1, -2)
    if mask is not None:
        s = s + mask
    w = s.softmax(-1)
    if dropout_p > 0.0:
        w = dropout(w, p=dropout_p)
    return w @ v, w


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
        bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
        out_proj_bias: Tensor | None, training: bool = True, key_padding_mask: Any = None,
        need_weights: bool = True, attn_mask: Any = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True,
        is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """PyTorch's F.multi_head_attention_forward, sequence first: query (L, N, E) or (L, E), key
    (S, N, Ek), value (S, N, Ev) -> (attn_output (L, N, E), attn_weights (N, L, S), per head
    (N, H, L, S) unless average_attn_weights, or None unless need_weights); unbatched inputs
    drop N. Masks: key_padding_mask (N, S), attn_mask (L, S) or (N * H, L, S); bool True = may
    not attend, floats are added."""
    return _forward(False, query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                    in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight,
                    out_proj_bias, training, key_padding_mask, need_weights, attn_mask,
                    (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight
                    else None, static_k, static_v, average_attn_weights, is_causal)


def _forward(bf: bool, query: Tensor, key: Tensor, value: Tensor, E: int, H: int, W: Any,
             b: Any, bias_k: Any, bias_v: Any, add_zero_attn: bool, dropout_p: float, Wo: Any,
             bo: Any, training: bool, kpm: Any, need_weights: bool, attn_mask: Any,
             separate: tuple | None, static_k: Any, static_v: Any, average: bool,
             is_causal: bool) -> tuple[Tensor, Tensor | None]:
    """multi_head_attention_forward in either token layout: batch first (N, L, E) when bf."""
    query, key, value = (as_operand(x) for x in (query, key, value))  # Tensors stay themselves
    batched = _shape_check(query, key, value, kpm, attn_mask, H)
    if not batched:  # as a batch of one, in the sequence-first layout
        bf, query, key, value = False, query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        kpm = None if kpm is None else as_operand(kpm).unsqueeze(0)
    ax = 0 if bf else 1
    N, L, S = query.shape[ax], query.shape[1 - ax], key.shape[1 - ax]
    _check_sizes(query, key, value, E, H, separate, W)
    kpm, am, is_causal = _masks(query, kpm, attn_mask, need_weights, is_causal)
    am = _attn_mask_4d(am, N, H, L, S)
    plain = bias_k is None and bias_v is None and static_k is None and static_v is None
    if plain and not add_zero_attn:
        q, k, v = _project(query, key, value, W, b, separate, E, H, bf, True)
    else:
        q, k, v = _project(query, key, value, W, b, separate, E, H, bf, False)
        q, k, v, kpm, am = _with_extra_keys(q, k, v, bias_k, bias_v, add_zero_attn, static_k,
                                            static_v, kpm, am, H, bf)
    mask = _merge_padding(kpm, am, N, k.shape[2])
    p = dropout_p if training else 0.0
    if need_weights:
        o, w = _weights_path(q, k, v, mask, p)
        w = w.mean(dim=1) if average else w
    else:
        o, w = scaled_dot_product_attention(q, k, v, mask, p, is_causal), None
    o = o.permute(0, 2, 1, 3) if bf else o.permute(2, 0, 1, 3)  # (N, H, L, D) -> tokens
    o = linear(o.reshape(o.shape[0], o.shape[1], E), Wo, bo)
    if not batched:
        o, w = o.squeeze(1), (None if w is None else w.squeeze(0))
    return o, w


def _check_sizes(query: Tensor, key: Tensor, value: Tensor, E: int, H: int,
                 separate: tuple | None, W: Any) -> None:
    if query.shape[-1] != E:
        raise AttentionError(f"was expecting embedding dimension of {E}, but got "
                             f"{query.shape[-1]} (query of shape {tuple(query.shape)})")
    if E % H:
        raise AttentionError(f"embed_dim {E} not divisible by num_heads {H}")
    if separate is not None:
        if any(w is None for w in separate):
            raise AttentionError("use_separate_proj_weight is True but one of q_proj_weight, "
                                 "k_proj_weight, v_proj_weight is None")
        if key.shape[:2] != value.shape[:2]:
            raise AttentionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not "
                                 f"match value's {tuple(value.shape[:2])}")
    else:
        if W is None:
            raise AttentionError("use_separate_proj_weight is False but in_proj_weight is None")
        if key.shape != value.shape:
            raise AttentionError(f"key shape {tuple(key.shape)} does not match value shape "
                                 f"{tuple(value.shape)}")


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al.): concat(head_1..head_H) @ out_proj, each head
    softmax(q k^T / sqrt(D)) v over its own D = embed_dim / num_heads features of the projected
    query, key and value. PyTorch's parameters: in_proj_weight (3E, E) and in_proj_bias (3E,),
    or q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim) when kdim or vdim
    differ from embed_dim; out_proj (a Linear); bias_k, bias_v (1, 1, E) with add_bias_kv.

    forward(query, key, value) takes (L, N, E), (S, N, kdim), (S, N, vdim) ((N, L, E) ... with
    batch_first, or unbatched (L, E) ...) and returns (attn_output of query's shape,
    attn_weights (N, L, S) averaged over heads, or (N, H, L, S), or None unless need_weights).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim="
                             f"{embed_dim} and num_heads={num_heads} instead")
        super().__init__()
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads, self.dropout, self.batch_first = num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AttentionError(f"embed_dim must be divisible by num_heads, got embed_dim="
                                 f"{embed_dim} and num_heads={num_heads}")
        E = embed_dim
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(_empty((E, E), dtype))
            self.k_proj_weight = Parameter(_empty((E, self.kdim), dtype))
            self.v_proj_weight = Parameter(_empty((E, self.vdim), dtype))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(_empty((3 * E, E), dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        if bias:
            self.in_proj_bias = Parameter(_empty((3 * E,), dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(_empty((1, 1, E), dtype))
            self.bias_v = Parameter(_empty((1, 1, E), dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()
        self._to_device(device)

    def _reset_parameters(self) -> None:
        """PyTorch's initialisation: Xavier-uniform projections, zero biases (the out_proj
        weight keeps Linear's), Xavier-normal bias_k and bias_v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """Attention of query over key / value. key_padding_mask (N, S) (or (S,) unbatched):
        True (or -inf) ignores that key. attn_mask (L, S) or (N * num_heads, L, S): True (or
        -inf) forbids a query-key pair, floats are added. is_causal is a hint that attn_mask is
        the causal mask (it is still required). Returns (attn_output, attn_weights)."""
        q = as_operand(query)
        kpm = _canonical_mask(key_padding_mask, "key_padding_mask", _dtype_of(attn_mask),
                              "attn_mask", q)
        am = _canonical_mask(attn_mask, "attn_mask", None, "", q, check_other=False)
        separate = None if self._qkv_same_embed_dim else (
            self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return _forward(self.batch_first and q.ndim == 3, query, key, value, self.embed_dim,
                        self.num_heads, self.in_proj_weight, self.in_proj_bias, self.bias_k,
                        self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight,
                        self.out_proj.bias, self.training, kpm, need_weights, am, separate,
                        None, None, average_attn_weights, is_causal)
