"""One training step of the 784-256-256-10 MLP (Adam, cross-entropy) in chainrule and in
PyTorch, side by side in one process on the same data and weights, at batch 32, 128 and 512.
Prints samples per second and the ratio chainrule / PyTorch (higher is better for us).

Run: python benchmarks/train_mlp.py [--threads N] [--steps 50] [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import sys

from _common import pin_threads, print_table, samples_per_second

THREADS = pin_threads(None if __name__ == "__main__" else [])

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.nn as nn  # noqa: E402
import chainrule.nn.functional as F  # noqa: E402
from chainrule import optim  # noqa: E402

SIZES = (784, 256, 256, 10)


def make_data(batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, SIZES[0])).astype(np.float32), rng.integers(0, 10, batch)


def chainrule_step(x: np.ndarray, y: np.ndarray) -> tuple:
    cr.manual_seed(0)
    layers = []
    for i in range(len(SIZES) - 1):
        layers += [nn.Linear(SIZES[i], SIZES[i + 1]), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = cr.tensor(x), cr.tensor(y)

    def step() -> None:
        loss = F.cross_entropy(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step, model


def torch_step(x: np.ndarray, y: np.ndarray, model_cr: nn.Module) -> object:
    import torch

    torch.set_num_threads(THREADS)
    layers = []
    for i in range(len(SIZES) - 1):
        layers += [torch.nn.Linear(SIZES[i], SIZES[i + 1]), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    with torch.no_grad():  # same initial weights
        for p, q in zip(model.parameters(), model_cr.parameters()):
            p.copy_(torch.from_numpy(q.data.copy()))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="few steps: a smoke run")
    args = p.parse_args(argv)
    steps, repeats = (5, 1) if args.quick else (args.steps, args.repeats)
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    rows = []
    for batch in (32, 128, 512):
        x, y = make_data(batch)
        step, model = chainrule_step(x, y)
        ours = samples_per_second(step, batch, steps, repeats)
        theirs = (samples_per_second(torch_step(x, y, model), batch, steps, repeats)
                  if have_torch else None)
        rows.append((f"MLP batch {batch}", ours, theirs))
    print_table(f"train step, samples/s ({args.threads} BLAS threads each; median of "
                f"{repeats} x {steps} steps){'' if have_torch else '; torch not installed'}",
                rows)


if __name__ == "__main__":
    sys.exit(main())
