"""Stacks of Transformer layers and the whole model, as PyTorch 2.x: TransformerEncoder,
TransformerDecoder, Transformer (with Transformer.generate_square_subsequent_mask)."""

from __future__ import annotations

import copy
from typing import Any, Callable

import numpy as np

from chainrule.autograd import is_grad_enabled
from chainrule.backend import as_dtype
from chainrule.creation import tensor as _tensor
from chainrule.dtypes import default_float
from chainrule.nn import init
from chainrule.nn.containers import ModuleList
from chainrule.nn.layers.activation import relu
from chainrule.nn.layers.attention import _canonical_mask, _dtype_of
from chainrule.nn.layers.norm import LayerNorm
from chainrule.nn.layers.transformer import TransformerDecoderLayer, TransformerEncoderLayer
from chainrule.nn.module import Module
from chainrule.operands import as_operand
from chainrule.tensor import Tensor


def _generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
    """(sz, sz) float mask: -inf above the diagonal (a position may not see later ones), 0
    elsewhere."""
    dt = default_float() if dtype is None else as_dtype(dtype)
    return _tensor(np.triu(np.full((sz, sz), -np.inf, dtype=dt), 1), device=device)


def _get_clones(module: Module, N: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(N)])


def _get_seq_len(src: Tensor, batch_first: bool) -> int:
    return src.shape[0] if src.ndim == 2 else src.shape[1 if batch_first else 0]


def _detect_is_causal_mask(mask: Any, is_causal: bool | None = None,
                           size: int | None = None) -> bool:
    """is_causal when given; when None, whether mask equals the causal mask of that size."""
    make_causal = is_causal is True
    if is_causal is None and mask is not None:
        m = as_operand(mask)
        sz = size if size is not None else m.shape[-2]
        causal = np.triu(np.full((sz, sz), -np.inf, dtype=m.array.dtype), 1)
        make_causal = m.shape == causal.shape and bool((m.numpy() == causal).all())
    return make_causal


class TransformerEncoder(Module):
    """num_layers deep copies of encoder_layer applied in turn, then `norm` if given.

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None): src (S, N, d_model)
    ((N, S, d_model) with batch_first, or unbatched) -> the same shape. is_causal=None detects
    whether mask is the causal mask. enable_nested_tensor and mask_check are PyTorch's: in eval
    mode without gradients, a batch-first stack given a left-aligned src_key_padding_mask
    returns zeros (before `norm`) at the padded positions, as PyTorch's nested-tensor path does.
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor and _sparsity_ok(encoder_layer)
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool | None = None) -> Tensor:
        x = as_operand(src)
        kpm = _canonical_mask(src_key_padding_mask, "src_key_padding_mask", _dtype_of(mask),
                              "mask", x)
        mask = _canonical_mask(mask, "mask", None, "", x, check_other=False)
        first = self.layers[0]
        padded = self._nested_padding(x, kpm, mask, first)
        is_causal = _detect_is_causal_mask(mask, is_causal,
                                           _get_seq_len(x, first.self_attn.batch_first))
        out = x
        for mod in self.layers:
            out = mod(out, src_mask=mask, is_causal=is_causal, src_key_padding_mask=kpm)
        if padded is not None:
            out = out.masked_fill(_tensor(padded[..., None]), 0.0)
        return out if self.norm is None else self.norm(out)

    def _nested_padding(self, x: Tensor, kpm: Tensor | None, mask: Tensor | None,
                        first: Module) -> np.ndarray | None:
        """The padded positions (N, S) where PyTorch would run its nested-tensor path (whose
        output is zero there), else None."""
        if (not getattr(self, "use_nested_tensor", False) or first.training or x.ndim != 3
                or kpm is None or mask is not None):
            return None
        valid = kpm.numpy() == 0  # PyTorch takes logical_not of the (float) padding mask
        left_aligned = (np.diff(valid.astype(np.int8), axis=1) <= 0).all()
        if self.mask_check and not left_aligned:
            return None
        params = [p for p in first.parameters()]
        if is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in params)):
            return None
        return ~valid


def _sparsity_ok(layer: Any) -> bool:
    """PyTorch's conditions for its nested-tensor path (use_nested_tensor)."""
    if not isinstance(layer, TransformerEncoderLayer):
        return False
    a = layer.self_attn
    return (not layer.norm_first and a.batch_first and a._qkv_same_embed_dim
            and a.in_proj_bias is not None and bool(layer.activation_relu_or_gelu)
            and layer.norm1.eps == layer.norm2.eps and a.num_heads % 2 == 0)


class TransformerDecoder(Module):
    """num_layers deep copies of decoder_layer applied in turn to tgt with memory, then `norm`
    if given. tgt (T, N, d_model), memory (S, N, d_model) ((N, T, d_model) ... with
    batch_first) -> tgt's shape. tgt_is_causal=None detects whether tgt_mask is causal."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None,
                memory_mask: Any = None, tgt_key_padding_mask: Any = None,
                memory_key_padding_mask: Any = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        out = as_operand(tgt)
        seq_len = _get_seq_len(out, self.layers[0].self_attn.batch_first)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, seq_len)
        for mod in self.layers:
            out = mod(out, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return out if self.norm is None else self.norm(out)


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need": encoder (a
    TransformerEncoder of num_encoder_layers layers and a final LayerNorm) and decoder (a
    TransformerDecoder likewise), unless custom_encoder / custom_decoder are given. Every
    parameter with more than one dimension starts Xavier-uniform, as in PyTorch.

    forward(src (S, N, d_model), tgt (T, N, d_model), ...) -> (T, N, d_model) ((N, S, d_model)
    ... with batch_first; unbatched (S, d_model) ... too).
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = relu,
                 custom_encoder: Any | None = None, custom_decoder: Any | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*args, dtype=dtype), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*args, dtype=dtype), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        self._to_device(device)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Any = None, tgt_mask: Any = None,
                memory_mask: Any = None, src_key_padding_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        """Masks: src_mask (S, S), tgt_mask (T, T), memory_mask (T, S), and padding masks
        (N, S), (N, T), (N, S); bool True (or -inf) masks out. Returns (T, N, d_model)."""
        src, tgt = as_operand(src), as_operand(tgt)
        batch = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch] != tgt.shape[batch]:
            raise RuntimeError(f"the batch number of src and tgt must be equal: src "
                               f"{tuple(src.shape)}, tgt {tuple(tgt.shape)} (batch_first="
                               f"{self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model "
                               f"({self.d_model}): src {tuple(src.shape)}, tgt "
                               f"{tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None,
                                        dtype: Any = None) -> Tensor:
        """The causal mask (sz, sz): float -inf above the diagonal, 0 on and below it."""
        return _generate_square_subsequent_mask(sz, device=device, dtype=dtype)

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)
