"""The MNIST split the examples and benchmarks share: the 10 000 t10k images, the first 8 000
for training and the last 2 000 for testing (only the t10k files ship in ../shared)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from chainrule.data.datasets import mnist

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def load_mnist(data_dir: str | Path | None = None, flat: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test): float32 images scaled to mean 0, std 1 (MNIST's
    mean 0.1307 and std 0.3081), shaped (n, 784) or (n, 1, 28, 28); int64 labels."""
    root = Path(data_dir) if data_dir else SHARED
    images, labels = mnist(root, train=False, download=False)
    x = (images.astype(np.float32) / 255 - 0.1307) / 0.3081
    x = x.reshape(len(x), 784) if flat else x.reshape(len(x), 1, 28, 28)
    return x[:8000], labels[:8000], x[8000:], labels[8000:]


def parse_args(doc: str, argv: list[str] | None) -> argparse.Namespace:
    """The options both MNIST examples take."""
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--data-dir", help="folder with t10k-images-idx3-ubyte.gz and labels")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)
