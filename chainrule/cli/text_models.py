"""The character-level language models of `chainrule train --dataset text`, their description
(saved in every checkpoint) and their size, counted without building them:

    {"model": "lstm", "vocab_size": 66, "embedding": 64, "hidden": [128], "seq_len": 64,
     "dropout": 0.0}

Each maps ids (N, T) to next-character logits (N, T, vocab_size).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.cli.options import TEXT_MODELS

__all__ = ["TEXT_MODELS", "CharRNN", "CharTransformer", "build_text_model", "describe",
           "text_sizes"]
NHEAD = 4  # attention heads of the transformer (its width must be a multiple)
GATES = {"lstm": 4, "gru": 3}


class CharRNN(nn.Module):
    """ids (N, T) -> logits (N, T, vocab_size): Embedding, a stacked LSTM or GRU (dropout
    between its layers and before the head), Linear."""

    def __init__(self, kind: str, vocab_size: int, embedding: int, hidden: int, num_layers: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        rnn = nn.LSTM if kind == "lstm" else nn.GRU
        self.embed = nn.Embedding(vocab_size, embedding)
        self.rnn = rnn(embedding, hidden, num_layers, batch_first=True,
                       dropout=dropout if num_layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids: cr.Tensor) -> cr.Tensor:
        y, _ = self.rnn(self.embed(ids))
        return self.head(self.drop(y))


def positional_encoding(max_len: int, d_model: int) -> np.ndarray:
    """The sinusoids of "Attention Is All You Need": (max_len, d_model), float32."""
    pos = np.arange(max_len)[:, None]
    freq = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    pe = np.zeros((max_len, d_model), dtype=np.float32)
    pe[:, 0::2], pe[:, 1::2] = np.sin(pos * freq), np.cos(pos * freq)[:, :d_model // 2]
    return pe


class CharTransformer(nn.Module):
    """ids (N, T) -> logits (N, T, vocab_size): Embedding plus sinusoidal positions, a causal
    pre-norm nn.TransformerEncoder (each position sees itself and the ones before), Linear."""

    def __init__(self, vocab_size: int, d_model: int, num_layers: int, max_len: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pe = cr.from_numpy(positional_encoding(max_len, d_model))  # a constant
        layer = nn.TransformerEncoderLayer(d_model, NHEAD, 4 * d_model, dropout,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids: cr.Tensor) -> cr.Tensor:
        T = ids.shape[1]
        x = self.embed(ids) + self.pe[:T].to(self.head.weight.dtype)
        mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=x.dtype)
        return self.head(self.encoder(x, mask=mask, is_causal=True))


def build_text_model(arch: dict[str, Any]) -> nn.Module:
    """A fresh module for a text architecture (weights from the default generator)."""
    hidden = arch["hidden"]
    if arch["model"] == "transformer":
        return CharTransformer(arch["vocab_size"], hidden[0], len(hidden), arch["seq_len"],
                               arch["dropout"])
    return CharRNN(arch["model"], arch["vocab_size"], arch["embedding"], hidden[0], len(hidden),
                   arch["dropout"])


def text_sizes(arch: dict[str, Any]) -> tuple[int, int]:
    """(values in the state_dict, floats of activation per window) of build_text_model(arch),
    counted without building it."""
    V, E, T = arch["vocab_size"], arch["embedding"], arch["seq_len"]
    H, layers = arch["hidden"][0], len(arch["hidden"])
    if arch["model"] == "transformer":
        d, ff = H, 4 * H
        per_layer = (3 * d * d + 3 * d) + (d * d + d) + (d * ff + ff) + (ff * d + d) + 4 * d
        values = V * d + layers * per_layer + 2 * d + d * V + V
        acts = T * (layers * (12 * d + ff + 2 * NHEAD * T) + d + V)
        return values, acts
    G = GATES[arch["model"]]
    values = V * E + H * V + V
    for k in range(layers):
        values += G * H * ((E if k == 0 else H) + H) + 2 * G * H
    acts = T * (E + layers * (G + 3) * H + 2 * V)
    return values, acts


def describe(arch: dict[str, Any]) -> str:
    """One line: the model, its sizes and its parameter count."""
    layers, H = len(arch["hidden"]), arch["hidden"][0]
    if arch["model"] == "transformer":
        shape = f"{layers} layer{'s' * (layers > 1)} of width {H}, {NHEAD} heads"
    else:
        shape = f"embedding {arch['embedding']}, {layers} layer{'s' * (layers > 1)} of {H}"
    return (f"{arch['model']} ({shape}; vocabulary of {arch['vocab_size']}, windows of "
            f"{arch['seq_len']}): {text_sizes(arch)[0]:,} parameters")
