"""One training step of the 784-256-256-10 MLP (Adam, cross-entropy) in chainrule and in
PyTorch, side by side in one process on the same data and weights, at batch 32, 128 and 512.
Prints samples per second and the ratio chainrule / PyTorch (higher is better for us).

Run: python benchmarks/train_mlp.py [--threads N] [--steps 50] [--repeats 5] [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Callable

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
import chainrule.nn as nn  # noqa: E402

SIZES = (784, 256, 256, 10)


def make_data(batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, SIZES[0])).astype(np.float32), rng.integers(0, 10, batch)


def mlp_pair() -> tuple:
    """The chainrule MLP and the same architecture in torch (weights copied later)."""
    import torch

    cr.manual_seed(0)
    ours, theirs = [], []
    for i in range(len(SIZES) - 1):
        ours += [nn.Linear(SIZES[i], SIZES[i + 1]), nn.ReLU()]
        theirs += [torch.nn.Linear(SIZES[i], SIZES[i + 1]), torch.nn.ReLU()]
    return nn.Sequential(*ours[:-1]), torch.nn.Sequential(*theirs[:-1])


def chainrule_mlp() -> nn.Module:
    cr.manual_seed(0)
    layers = []
    for i in range(len(SIZES) - 1):
        layers += [nn.Linear(SIZES[i], SIZES[i + 1]), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def interleaved(ours: Callable[[], None], theirs: Callable[[], None], batch: int, steps: int,
                repeats: int) -> tuple[float, float]:
    """Samples/s of the two step functions, medians over repeats, their blocks of `steps`
    steps alternating so that a change in the shared machine's load hits both alike."""
    for f in (ours, theirs):  # warm-up
        for _ in range(max(2, steps // 5)):
            f()
    rates: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for f, r in zip((ours, theirs), rates):
            t0 = time.perf_counter()
            for _ in range(steps):
                f()
            r.append(batch * steps / (time.perf_counter() - t0))
    return statistics.median(rates[0]), statistics.median(rates[1])


def main(argv: list[str] | None = None) -> None:
    args, steps, repeats = parse_args(__doc__, argv, THREADS, 50, 5)
    torch_ok = have_torch()
    rows = []
    for batch in (32, 128, 512):
        x, y = make_data(batch)
        if torch_ok:
            model, reference = mlp_pair()
            ours_step = chainrule_step(model, x, y)
            ours, theirs = interleaved(ours_step, torch_step(reference, model, x, y,
                                                             args.threads),
                                       batch, steps, repeats)
        else:
            model, theirs = chainrule_mlp(), None
            ours = samples_per_second(chainrule_step(model, x, y), batch, steps, repeats)
        rows.append((f"MLP batch {batch}", ours, theirs))
    print_table(f"train step, samples/s ({args.threads} BLAS threads each; median of "
                f"{repeats} x {steps} steps, interleaved)"
                f"{'' if torch_ok else '; torch not installed'}", rows)


if __name__ == "__main__":
    sys.exit(main())
