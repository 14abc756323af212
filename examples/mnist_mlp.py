"""Train a 784-256-256-10 MLP with Adam on MNIST: the first 8 000 t10k images for training, the
last 2 000 for testing, 10 epochs. Run: python examples/mnist_mlp.py [--data-dir DIR]"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule import optim
from chainrule.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _mnist import load_mnist, parse_args  # noqa: E402


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with cr.no_grad():
        pred = model(cr.from_numpy(x)).argmax(dim=1)
    model.train()
    return (pred == cr.from_numpy(y)).float().mean().item()


def train(model: nn.Module, data: tuple, epochs: int, lr: float, batch_size: int,
          seed: int, log: bool = True) -> float:
    """Adam on cross-entropy; returns the final test accuracy."""
    x_train, y_train, x_test, y_test = data
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True,
                        seed=seed)
    opt = optim.Adam(model.parameters(), lr=lr)
    for epoch in range(1, epochs + 1):
        start, total = time.perf_counter(), 0.0
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        acc = accuracy(model, x_test, y_test)
        if log:
            print(f"epoch {epoch:2d}  loss {total / len(y_train):.4f}  test accuracy "
                  f"{acc:.2%}  ({time.perf_counter() - start:.1f} s)")
    return acc


def main(argv: list[str] | None = None) -> float:
    args = parse_args(__doc__, argv)
    cr.manual_seed(args.seed)
    acc = train(mlp(), load_mnist(args.data_dir), args.epochs, args.lr, args.batch_size,
                args.seed)
    print(f"final test accuracy {acc:.2%}")
    return acc


if __name__ == "__main__":
    main()
