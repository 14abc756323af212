"""The Transformer's layers, as PyTorch 2.x: TransformerEncoderLayer, TransformerDecoderLayer.

Each is attention and a feed-forward block, each block wrapped in dropout, a residual and a
LayerNorm: after the residual (norm_first=False, the original paper) or before the block
(norm_first=True). The stacks and nn.Transformer are in transformer_model.py.
"""

from __future__ import annotations

from typing import Any, Callable

from chainrule.nn.layers.activation import GELU, ReLU, relu
from chainrule.nn.layers.attention import MultiheadAttention, _canonical_mask, _dtype_of
from chainrule.nn.layers.linear import Dropout, Linear
from chainrule.nn.layers.norm import LayerNorm
from chainrule.nn.module import Module
from chainrule.operands import as_operand
from chainrule.ops.activation import gelu
from chainrule.tensor import Tensor


def _get_activation_fn(activation: str) -> Callable[[Tensor], Tensor]:
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _relu_or_gelu(activation: Any) -> int:
    """PyTorch's activation_relu_or_gelu flag: 1 for relu, 2 for gelu, 0 for anything else."""
    if activation is relu or isinstance(activation, ReLU):
        return 1
    if activation is gelu or isinstance(activation, GELU):
        return 2
    return 0


class _Layer(Module):
    """What both layers share: the feed-forward block, norms, dropouts and the activation."""

    def _build_ff(self, d_model: int, dim_feedforward: int, dropout: float, activation: Any,
                  layer_norm_eps: float, norm_first: bool, bias: bool, norms: int,
                  dtype: Any) -> None:
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        for i in range(1, norms + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                dtype=dtype))
        for i in range(1, norms + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        self.activation_relu_or_gelu = _relu_or_gelu(activation)
        self.activation = activation

    def _ff(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


def _attn_block(attn: MultiheadAttention, x: Tensor, mem: Tensor, attn_mask: Any,
                key_padding_mask: Any, is_causal: bool, drop: Dropout) -> Tensor:
    y = attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
             need_weights=False, is_causal=is_causal)[0]
    return drop(y)


class TransformerEncoderLayer(_Layer):
    """Self-attention then a feed-forward network (Linear, activation, dropout, Linear), each
    with dropout, a residual connection and a LayerNorm.

    norm_first=False: x = norm1(x + sa(x)); x = norm2(x + ff(x)).
    norm_first=True:  x = x + sa(norm1(x)); x = x + ff(norm2(x)).
    src (S, N, d_model), (N, S, d_model) with batch_first, or unbatched (S, d_model) -> the same
    shape. activation: "relu", "gelu" or a callable. Parameters as PyTorch's: self_attn.*,
    linear1.*, linear2.*, norm1.*, norm2.*.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self._build_ff(d_model, dim_feedforward, dropout, activation, layer_norm_eps,
                       norm_first, bias, 2, dtype)
        self._to_device(device)

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """src_mask (S, S) or (N * nhead, S, S) and src_key_padding_mask (N, S): bool True (or
        -inf) masks out; is_causal is a hint that src_mask is the causal mask."""
        x = as_operand(src)
        kpm = _canonical_mask(src_key_padding_mask, "src_key_padding_mask", _dtype_of(src_mask),
                              "src_mask", x)
        mask = _canonical_mask(src_mask, "src_mask", None, "", x, check_other=False)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), mask, kpm, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, mask, kpm, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any,
                  is_causal: bool = False) -> Tensor:
        return _attn_block(self.self_attn, x, x, attn_mask, key_padding_mask, is_causal,
                           self.dropout1)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self._ff(x))


class TransformerDecoderLayer(_Layer):
    """Self-attention over the target, attention over the encoder's output (memory), then a
    feed-forward network; each with dropout, a residual connection and a LayerNorm.

    norm_first=False: x = norm1(x + sa(x)); x = norm2(x + mha(x, memory));
                      x = norm3(x + ff(x)).
    norm_first=True:  the same with each norm applied to the block's input instead.
    tgt (T, N, d_model) and memory (S, N, d_model) ((N, T, d_model) ... with batch_first, or
    unbatched) -> tgt's shape. Parameters as PyTorch's: self_attn.*, multihead_attn.*,
    linear1.*, linear2.*, norm1.*, norm2.*, norm3.*.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                            batch_first=batch_first, bias=bias, dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                 batch_first=batch_first, bias=bias, dtype=dtype)
        self._build_ff(d_model, dim_feedforward, dropout, activation, layer_norm_eps,
                       norm_first, bias, 3, dtype)
        self._to_device(device)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None,
                memory_mask: Any = None, tgt_key_padding_mask: Any = None,
                memory_key_padding_mask: Any = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        """tgt_mask (T, T), memory_mask (T, S), tgt_key_padding_mask (N, T),
        memory_key_padding_mask (N, S): bool True (or -inf) masks out; *_is_causal are hints
        that the matching mask is causal."""
        x, mem = as_operand(tgt), as_operand(memory)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), mem, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, mem, memory_mask, memory_key_padding_mask,
                                           memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any,
                  is_causal: bool = False) -> Tensor:
        return _attn_block(self.self_attn, x, x, attn_mask, key_padding_mask, is_causal,
                           self.dropout1)

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Any, key_padding_mask: Any,
                   is_causal: bool = False) -> Tensor:
        return _attn_block(self.multihead_attn, x, mem, attn_mask, key_padding_mask, is_causal,
                           self.dropout2)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self._ff(x))
