"""A tiny character-level Transformer language model, trained on public-domain poems.

Characters are embedded, given sinusoidal position codes and run through a causal
nn.TransformerEncoder (each position sees only the ones before it); a Linear head predicts the
next character. Adam on cross-entropy over random windows of chainrule/data/texts/poems.txt
(Poe, Shakespeare, Carroll, ...; see the README beside it), with the last 10 % held out. Prints
the loss per epoch and a generated sample. The same program runs on PyTorch with the imports
renamed (tests/examples/test_transformer_lm.py checks that its losses match torch's step by step).

Run: python examples/transformer_char_lm.py [--epochs 6] [--steps 40] [--batch-size 32]
     [--seq-len 64] [--d-model 64] [--layers 2] [--lr 3e-3] [--sample 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time
from importlib import resources

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import optim


def load_text(name: str = "poems.txt") -> str:
    """A text shipped in chainrule/data/texts."""
    return (resources.files("chainrule.data") / "texts" / name).read_text(encoding="utf-8")


class Vocab:
    """The characters of a text, each with an integer id."""

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids: np.ndarray) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def positional_encoding(max_len: int, d_model: int) -> np.ndarray:
    """The sinusoids of "Attention Is All You Need": (max_len, d_model), float32."""
    pos = np.arange(max_len)[:, None]
    freq = np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    pe = np.zeros((max_len, d_model), dtype=np.float32)
    pe[:, 0::2], pe[:, 1::2] = np.sin(pos * freq), np.cos(pos * freq)
    return pe


class CharTransformer(nn.Module):
    """ids (N, T) -> next-character logits (N, T, vocab_size), each position attending only to
    itself and the positions before it."""

    def __init__(self, vocab_size: int, d_model: int = 64, nhead: int = 4, num_layers: int = 2,
                 dim_feedforward: int = 256, dropout: float = 0.1, max_len: int = 512) -> None:
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pe = cr.from_numpy(positional_encoding(max_len, d_model))  # a constant, not trained
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids: cr.Tensor) -> cr.Tensor:
        T = ids.shape[1]
        x = self.embed(ids) + self.pe[:T].to(self.head.weight.dtype)
        mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=x.dtype)
        return self.head(self.encoder(x, mask=mask, is_causal=True))


def batch(data: np.ndarray, batch_size: int, seq_len: int,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """batch_size random windows: inputs (N, T) and the next characters (N, T)."""
    starts = rng.integers(0, len(data) - seq_len - 1, batch_size)
    x = np.stack([data[s:s + seq_len] for s in starts])
    y = np.stack([data[s + 1:s + seq_len + 1] for s in starts])
    return x, y


def lm_loss(model: nn.Module, x: np.ndarray, y: np.ndarray) -> cr.Tensor:
    """Mean cross-entropy of the next-character predictions."""
    logits = model(cr.from_numpy(x))
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), cr.from_numpy(y).reshape(-1))


def evaluate(model: nn.Module, data: np.ndarray, seq_len: int, batches: int = 4) -> float:
    """Mean loss on fixed windows of held-out text."""
    rng = np.random.default_rng(1234)
    model.eval()
    with cr.no_grad():
        losses = [lm_loss(model, *batch(data, 32, seq_len, rng)).item() for _ in range(batches)]
    model.train()
    return float(np.mean(losses))


@cr.no_grad()
def generate(model: nn.Module, vocab: Vocab, prompt: str, length: int, seq_len: int,
             rng: np.random.Generator, temperature: float = 0.8) -> str:
    """Sample `length` characters after `prompt`, one at a time."""
    model.eval()
    ids = list(vocab.encode(prompt))
    for _ in range(length):
        context = np.array(ids[-seq_len:], dtype=np.int64)[None]
        logits = model(cr.from_numpy(context))[0, -1].numpy().astype(np.float64) / temperature
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    model.train()
    return vocab.decode(np.array(ids))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--steps", type=int, default=40, help="training steps per epoch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--sample", type=int, default=300, help="characters to generate")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Train, print the loss per epoch and a sample; returns the losses and the sample."""
    args = parse_args(argv)
    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    text = load_text()
    vocab = Vocab(text)
    data = vocab.encode(text)
    split = int(0.9 * len(data))
    train_data, val_data = data[:split], data[split:]
    model = CharTransformer(len(vocab), args.d_model, num_layers=args.layers,
                            dropout=args.dropout, max_len=args.seq_len)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    print(f"{len(text):,} characters, vocabulary of {len(vocab)}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")
    history = {"train": [], "val": []}
    for epoch in range(1, args.epochs + 1):
        start, total = time.perf_counter(), 0.0
        for _ in range(args.steps):
            loss = lm_loss(model, *batch(train_data, args.batch_size, args.seq_len, rng))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        history["train"].append(total / args.steps)
        history["val"].append(evaluate(model, val_data, args.seq_len))
        print(f"epoch {epoch:2d}  train loss {history['train'][-1]:.3f}  held-out loss "
              f"{history['val'][-1]:.3f}  ({time.perf_counter() - start:.1f} s)")
    history["sample"] = generate(model, vocab, "Once upon a ", args.sample, args.seq_len, rng)
    print("sample:\n" + history["sample"])
    return history


if __name__ == "__main__":
    main()
