"""Attention layers: MultiHeadAttention, Attention (Luong, dot or concat scores) and
AdditiveAttention (Bahdanau), with Keras 3's arguments, weight layouts and masks.

Masks are boolean (True = attend). A masked score is replaced by -1e9 before the softmax, as
Keras does, so a row with nothing to attend to gets uniform weights rather than NaN.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.keras import initializers as inits
from chainrule.keras import regularizers as regs
from chainrule.keras._graph import KerasTensor, Node
from chainrule.keras._layer import Layer, get_keras_mask
from chainrule.nn import functional as F
from chainrule.operands import as_tensor
from chainrule.tensor import Tensor

_NEG = -1e9  # Keras' large negative number for float32 / float64 scores


def _bool(mask: Any) -> np.ndarray | None:
    """A mask (Tensor, array or None) as a NumPy bool array (values > 0.5 kept, as Keras)."""
    if mask is None:
        return None
    a = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    return a if a.dtype == np.bool_ else a > 0.5


def _masked_softmax(scores: Tensor, keep: np.ndarray | None) -> Tensor:
    """softmax over the last axis, masked positions (keep False) first set to -1e9."""
    if keep is not None:
        scores = scores.masked_fill(as_tensor(np.broadcast_to(~keep, scores.shape)), _NEG)
    return F.softmax(scores, dim=-1)


def _causal(t: int, s: int) -> np.ndarray:
    return np.tril(np.ones((t, s), dtype=bool))


def _symbolic_call(layer: Layer, flat: list[KerasTensor], kwargs: dict[str, Any],
                   shapes: list[tuple]) -> Any:
    """Record one call of `layer` on the KerasTensors `flat` (passed to call as a list)."""
    layer._maybe_build([t.shape for t in flat])
    node = Node(layer, flat, True, dict(kwargs))
    node.outputs = [KerasTensor(s, "float32", node, i, layer.name) for i, s in enumerate(shapes)]
    node.many = len(shapes) > 1
    node.outputs[0].masked = flat[0].masked  # the output keeps the query's mask
    layer._inbound_nodes.append(node)
    return list(node.outputs) if node.many else node.outputs[0]


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al.) as keras.layers.MultiHeadAttention: query (B, T,
    dim), value (B, S, dim_v), key (B, S, dim_k) (default: value) -> (B, T, output_shape or dim).

    Weights in Keras' layout and order: query/key/value kernels (dim, num_heads, key_dim or
    value_dim) and biases (num_heads, key_dim), output kernel (num_heads, value_dim, out) and
    bias (out,). Attention runs over the sequence axis (attention_axes=None or (1,))."""

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 dropout: float = 0.0, use_bias: bool = True, output_shape: Any = None,
                 attention_axes: Any = None, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if activity_regularizer is not None or kernel_constraint is not None \
                or bias_constraint is not None:
            raise NotImplementedError("MultiHeadAttention: activity_regularizer and constraints "
                                      "are not supported in chainrule.keras")
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        if attention_axes is not None and tuple(attention_axes) not in ((1,), (-2,)):
            raise NotImplementedError(f"MultiHeadAttention: attention_axes={attention_axes} is "
                                      "not supported; chainrule.keras attends over axis 1 of "
                                      "(batch, seq, features) inputs")
        if not 0 <= dropout < 1:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1), got {dropout!r}")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout, self.use_bias, self.seed = float(dropout), bool(use_bias), seed
        if isinstance(output_shape, (list, tuple)):
            if len(output_shape) != 1:
                raise NotImplementedError("MultiHeadAttention: output_shape must be an int or "
                                          "a 1-tuple in chainrule.keras")
            output_shape = output_shape[0]
        self._output_dim = None if output_shape is None else int(output_shape)
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        self.kernel_initializer = inits.get(kernel_initializer)
        self.bias_initializer = inits.get(bias_initializer)
        self.kernel_regularizer = regs.get(kernel_regularizer)
        self.bias_regularizer = regs.get(bias_regularizer)
        self._gen = None if seed is None else np.random.default_rng(seed)
        self.supports_masking = True

    # -- calling: query, value, key are three tensors ------------------------------------------
    def __call__(self, query: Any, value: Any = None, key: Any = None, **kwargs: Any) -> Any:
        if value is None and isinstance(query, (list, tuple)):
            query, value, key = (list(query) + [None])[:3]
        if value is None:
            raise TypeError(f"MultiHeadAttention '{self.name}': call it as mha(query, value) "
                            "(self-attention: mha(x, x))")
        parts = [query, value] + ([] if key is None else [key])
        if any(isinstance(t, KerasTensor) for t in parts):
            if not all(isinstance(t, KerasTensor) for t in parts):
                raise TypeError(f"MultiHeadAttention '{self.name}': query, value and key must "
                                "all be KerasTensors or all be arrays")
            if isinstance(kwargs.get("attention_mask"), KerasTensor):
                raise NotImplementedError("MultiHeadAttention: a symbolic attention_mask is not "
                                          "supported; pass the mask array when calling")
            q, v = query.shape, value.shape
            out = [q[:-1] + (self._output_dim or q[-1],)]
            if kwargs.get("return_attention_scores"):
                out.append((q[0], self.num_heads, q[1], v[1]))
            return _symbolic_call(self, parts, kwargs, out)
        return super().__call__(parts, **kwargs)

    def build(self, input_shape: Any) -> None:
        q, v = input_shape[0], input_shape[1]
        k = input_shape[2] if len(input_shape) > 2 else v
        H, K, V = self.num_heads, self.key_dim, self.value_dim
        out = self._output_dim or q[-1]
        for name, dim, size in (("query", q[-1], K), ("key", k[-1], K), ("value", v[-1], V)):
            self._add_weight("kernel", (dim, H, size), self.kernel_initializer,
                             regularizer=self.kernel_regularizer, attr=f"{name}_kernel")
            if self.use_bias:
                self._add_weight("bias", (H, size), self.bias_initializer,
                                 regularizer=self.bias_regularizer, attr=f"{name}_bias")
        self._add_weight("kernel", (H, V, out), self.kernel_initializer,
                         regularizer=self.kernel_regularizer, attr="output_kernel")
        if self.use_bias:
            self._add_weight("bias", (out,), self.bias_initializer,
                             regularizer=self.bias_regularizer, attr="output_bias")

    def compute_output_shape(self, input_shape: Any) -> Any:
        q = input_shape[0]
        return tuple(q[:-1]) + (self._output_dim or q[-1],)

    def _project(self, x: Tensor, name: str) -> Tensor:
        """(B, T, dim) -> (B, heads, T, size) through the (dim, heads, size) kernel."""
        W = getattr(self, f"{name}_kernel")
        d, H, S = W.shape
        y = x.matmul(W.reshape(d, H * S))
        if self.use_bias:
            y = y + getattr(self, f"{name}_bias").reshape(H * S)
        return y.reshape(x.shape[0], x.shape[1], H, S).permute(0, 2, 1, 3)

    def call(self, inputs: Any, training: bool | None = None, attention_mask: Any = None,
             return_attention_scores: bool = False, use_causal_mask: bool = False,
             query_mask: Any = None, value_mask: Any = None, key_mask: Any = None) -> Any:
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        if query.ndim != 3 or value.ndim != 3 or key.ndim != 3:
            raise self._shape_error("query, value and key of shape (batch, seq, features)",
                                    (tuple(query.shape), tuple(value.shape), tuple(key.shape)))
        masks = [get_keras_mask(t) if m is None else m
                 for t, m in ((query, query_mask), (value, value_mask), (key, key_mask))]
        if key is value:
            masks[2] = None
        keep = self._attention_mask(query, value, masks, attention_mask, use_causal_mask)
        dt = self.query_kernel.dtype
        q = self._project(query.to(dt), "query") * (1.0 / math.sqrt(self.key_dim))
        k, v = self._project(key.to(dt), "key"), self._project(value.to(dt), "value")
        scores = _masked_softmax(q.matmul(k.transpose(-1, -2)), keep)   # (B, H, T, S)
        training = self.training if training is None else training
        probs = scores
        if training and self.dropout:
            probs = F.dropout(scores, self.dropout, True, generator=self._gen)
        a = probs.matmul(v).permute(0, 2, 1, 3)                          # (B, T, H, V)
        B, T, H, V = a.shape
        y = a.reshape(B, T, H * V).matmul(self.output_kernel.reshape(H * V, -1))
        if self.use_bias:
            y = y + self.output_bias
        return (y, scores) if return_attention_scores else y

    def _attention_mask(self, query: Tensor, value: Tensor, masks: list, attention_mask: Any,
                        causal: bool) -> np.ndarray | None:
        """The (B or 1, 1, T, S) boolean keep-mask from the Keras masks, attention_mask and
        causality, combined with AND as Keras does."""
        qm, vm, km = (_bool(m) for m in masks)
        keep = None
        for m in (None if qm is None else qm[:, :, None], None if vm is None else vm[:, None, :],
                  None if km is None else km[:, None, :],
                  _causal(query.shape[1], value.shape[1])[None] if causal else None,
                  _bool(attention_mask)):
            if m is not None:
                keep = m if keep is None else keep & m
        return None if keep is None else keep[:, None]

    def compute_mask(self, inputs: Any, previous_mask: Any = None) -> Any:
        """The output keeps the query's mask."""
        return previous_mask[0] if isinstance(previous_mask, list) else previous_mask

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self._output_dim, "attention_axes": self.attention_axes,
                "kernel_initializer": inits.serialize(self.kernel_initializer),
                "bias_initializer": inits.serialize(self.bias_initializer),
                "kernel_regularizer": regs.serialize(self.kernel_regularizer),
                "bias_regularizer": regs.serialize(self.bias_regularizer), "seed": self.seed}


class Attention(Layer):
    """Dot-product (Luong) attention: called on [query (B, Tq, dim), value (B, Tv, dim)] or
    [query, value, key]; scores = query @ key^T (times a learned scalar `scale` with
    use_scale=True), or with score_mode="concat" concat_score_weight * sum(tanh(q + k)).
    Returns softmax(scores) @ value (B, Tq, dim); mask=[query_mask, value_mask]."""

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError("Invalid value for argument score_mode. Expected one of "
                             f"{{'dot', 'concat'}}. Received: score_mode={score_mode}")
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout, self.seed = float(dropout), seed
        self._gen = None if seed is None else np.random.default_rng(seed)
        self.supports_masking = True

    def _validate(self, inputs: Any, mask: Any = None) -> None:
        name = type(self).__name__
        if not isinstance(inputs, list):
            raise ValueError(f"{name} layer must be called on a list of inputs, namely "
                             f"[query, value] or [query, value, key]. Received: inputs={inputs}.")
        if not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} layer accepts inputs list of length 2 or 3, namely "
                             f"[query, value] or [query, value, key]. Received length: "
                             f"{len(inputs)}.")
        if mask is not None and (not isinstance(mask, list) or not 2 <= len(mask) <= 3):
            raise ValueError(f"{name} layer mask must be a list, namely [query_mask, "
                             f"value_mask]. Received: mask={mask}.")

    def check_input_shape(self, s: Any) -> None:
        self._validate(s)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        self._validate(inputs)
        if any(isinstance(t, KerasTensor) for t in inputs):
            q, v = inputs[0].shape, inputs[1].shape
            k = inputs[2].shape if len(inputs) > 2 else v
            out = [tuple(q[:-1]) + (v[-1],)]
            if kwargs.get("return_attention_scores"):
                out.append(tuple(q[:-1]) + (k[-2],))
            return _symbolic_call(self, inputs, kwargs, out)
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape: Any) -> None:
        if self.use_scale:
            self._add_weight("scale", (), "ones")
        if self.score_mode == "concat":
            self._add_weight("concat_score_weight", (), "ones")

    def compute_output_shape(self, input_shape: Any) -> Any:
        return tuple(input_shape[0][:-1]) + (input_shape[1][-1],)

    def _scores(self, q: Tensor, k: Tensor) -> Tensor:
        if self.score_mode == "dot":
            s = q.matmul(k.transpose(-1, -2))
            return s * self.scale if self.use_scale else s
        t = q.unsqueeze(-2) + k.unsqueeze(-3)
        if self.use_scale:
            t = self.scale * t
        return self.concat_score_weight * t.tanh().sum(-1)

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None,
             return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        self._validate(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        qm, vm = (_bool(mask[0]), _bool(mask[1])) if mask else (None, None)
        scores = self._scores(q, k)
        keep = None if vm is None else vm[:, None, :]
        if use_causal_mask:
            c = _causal(scores.shape[-2], scores.shape[-1])[None]
            keep = c if keep is None else keep & c
        if keep is not None:
            # Keras subtracts 1e9 (rather than replacing) at masked scores
            drop = as_tensor(np.broadcast_to(~keep, scores.shape).astype(scores.array.dtype))
            scores = scores - drop * 1e9
        weights = F.softmax(scores, dim=-1)
        training = self.training if training is None else training
        w = weights
        if training and self.dropout > 0:
            w = F.dropout(weights, self.dropout, True, generator=self._gen)
        out = w.matmul(v)
        if qm is not None:
            out = out * as_tensor(qm[..., None].astype(out.array.dtype))
        return (out, weights) if return_attention_scores else out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None or mask[0] is None:
            return None
        return mask[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive (Bahdanau) attention: scores = sum(scale * tanh(q + k), -1), `scale` a learned
    (dim,) vector (glorot_uniform) with use_scale=True (the default), else 1."""

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape: Any) -> None:
        if self.use_scale:
            self._add_weight("scale", (input_shape[0][-1],), "glorot_uniform")

    def _scores(self, q: Tensor, k: Tensor) -> Tensor:
        t = (q.unsqueeze(-2) + k.unsqueeze(-3)).tanh()
        return (self.scale * t if self.use_scale else t).sum(-1)

    def get_config(self) -> dict[str, Any]:
        cfg = super().get_config()
        del cfg["score_mode"]
        return cfg
