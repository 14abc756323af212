"""One training step of a TransformerEncoderLayer (forward, MSE loss, backward, Adam) in chainrule
and in PyTorch, side by side in one process on the same data and weights (PyTorch's weights are
loaded into chainrule through its state_dict). Batch first, ReLU feed-forward, PyTorch's default
dropout 0.1 and dropout 0. Prints samples per second and the ratio chainrule / PyTorch (higher is
better for us).

Run: python benchmarks/train_transformer.py [--threads N] [--steps 10] [--repeats 5] [--quick]
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from _common import have_torch, parse_args, pin_threads, print_table

THREADS = pin_threads(None if __name__ == "__main__" else [])

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.nn as nn  # noqa: E402
import chainrule.nn.functional as F  # noqa: E402

# (name, d_model, nhead, dim_feedforward, seq_len, batch, dropout)
CASES = [
    ("d128 L64 N32 p=0.1", 128, 4, 512, 64, 32, 0.1),
    ("d128 L64 N32 p=0", 128, 4, 512, 64, 32, 0.0),
    ("d256 L128 N16 p=0.1", 256, 8, 1024, 128, 16, 0.1),
]


def make_data(case: tuple, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    _, d, _, _, L, N, _ = case
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, L, d)).astype(np.float32),
            rng.standard_normal((N, L, d)).astype(np.float32))


def chainrule_step(layer: nn.Module, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    opt = cr.optim.Adam(layer.parameters(), lr=1e-3)
    xt, yt = cr.tensor(x), cr.tensor(y)

    def step() -> None:
        loss = F.mse_loss(layer(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def torch_step(layer: Any, x: np.ndarray, y: np.ndarray, threads: int) -> Callable[[], None]:
    import torch

    torch.set_num_threads(threads)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> None:
        loss = torch.nn.functional.mse_loss(layer(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def interleaved(steps_fns: list[Callable[[], None] | None], batch: int, steps: int,
                repeats: int) -> list[float | None]:
    """Samples/s of each step function, median over repeats, their blocks of `steps` steps
    alternating so that a change in the machine's load hits both alike."""
    fns = [f for f in steps_fns if f is not None]
    for f in fns:  # warm-up
        for _ in range(max(2, steps // 5)):
            f()
    rates: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for f, r in zip(fns, rates):
            t0 = time.perf_counter()
            for _ in range(steps):
                f()
            r.append(batch * steps / (time.perf_counter() - t0))
    it = iter(statistics.median(r) for r in rates)
    return [next(it) if f is not None else None for f in steps_fns]


def layer_pair(case: tuple) -> tuple:
    """The chainrule layer and, when torch is installed, torch's with the same weights."""
    _, d, h, ff, _, _, p = case
    cr.manual_seed(0)
    ours = nn.TransformerEncoderLayer(d, h, ff, p, batch_first=True)
    if not have_torch():
        return ours, None
    import torch

    torch.manual_seed(0)
    theirs = torch.nn.TransformerEncoderLayer(d, h, ff, p, batch_first=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def main(argv: list[str] | None = None) -> None:
    args, steps, repeats = parse_args(__doc__, argv, THREADS, 10, 2)
    rows = []
    for case in CASES:
        x, y = make_data(case)
        ours, theirs = layer_pair(case)
        theirs_step = torch_step(theirs, x, y, args.threads) if theirs is not None else None
        r_ours, r_theirs = interleaved([chainrule_step(ours, x, y), theirs_step], case[5],
                                       steps, repeats)
        rows.append((case[0], r_ours, r_theirs))
    print_table(f"TransformerEncoderLayer train step, samples/s ({args.threads} BLAS threads "
                f"each; median of {repeats} x {steps} steps)"
                f"{'' if have_torch() else '; torch not installed'}", rows)


if __name__ == "__main__":
    sys.exit(main())
