"""Train a small CNN (two conv + max-pool blocks, then a dense layer) with Adam on MNIST: the
first 8 000 t10k images for training, the last 2 000 for testing, 10 epochs.
Run: python examples/mnist_cnn.py [--data-dir DIR]"""

from __future__ import annotations

import sys
from pathlib import Path

import chainrule as cr
import chainrule.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _mnist import load_mnist, parse_args  # noqa: E402
from mnist_mlp import train  # noqa: E402


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 14 x 14
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 32 x 7 x 7
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def main(argv: list[str] | None = None) -> float:
    args = parse_args(__doc__, argv)
    cr.manual_seed(args.seed)
    data = load_mnist(args.data_dir, flat=False)
    acc = train(cnn(), data, args.epochs, args.lr, args.batch_size, args.seed)
    print(f"final test accuracy {acc:.2%}")
    return acc


if __name__ == "__main__":
    main()
