"""One training step of the examples' MNIST CNN (two conv + max-pool blocks, dense layers; Adam,
cross-entropy) in chainrule and in PyTorch, side by side in one process on the same data and
weights, at batch 32, 64 and 128. Prints samples per second and the ratio chainrule / PyTorch.

Run: python benchmarks/train_cnn.py [--threads N] [--steps 20] [--repeats 5] [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import (
    chainrule_step,
    have_torch,
    parse_args,
    pin_threads,
    print_table,
    samples_per_second,
    torch_step,
)

THREADS = pin_threads(None if __name__ == "__main__" else [])

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from mnist_cnn import cnn  # noqa: E402


def torch_cnn() -> object:
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def main(argv: list[str] | None = None) -> None:
    args, steps, repeats = parse_args(__doc__, argv, THREADS, 20, 3)
    torch_ok = have_torch()
    rows = []
    rng = np.random.default_rng(0)
    for batch in (32, 64, 128):
        x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, batch)
        cr.manual_seed(0)
        model = cnn()
        ours = samples_per_second(chainrule_step(model, x, y), batch, steps, repeats)
        theirs = (samples_per_second(torch_step(torch_cnn(), model, x, y, args.threads), batch,
                                     steps, repeats) if torch_ok else None)
        rows.append((f"CNN batch {batch}", ours, theirs))
    print_table(f"train step, samples/s ({args.threads} BLAS threads each; median of "
                f"{repeats} x {steps} steps){'' if torch_ok else '; torch not installed'}",
                rows)


if __name__ == "__main__":
    sys.exit(main())
