"""Training steps on an NVIDIA GPU: chainrule (CuPy) beside PyTorch CUDA, samples per second.

MLP (784-512-512-10), CNN (two 3x3 convs, max pooling, Linear) and LSTM (35 steps, 64 -> 256,
Linear on the last step) at batch 128 and 512; Adam on cross-entropy, the same initial weights
in both libraries. Each figure: the median of repeats of `steps` steps, timed between device
synchronisations (no .item() inside: both libraries queue their kernels freely). The first
steps compile CuPy's kernels and are not timed.

Run: python scripts/gpu_bench.py [--steps 20] [--repeats 3] [--json FILE] [--only mlp,cnn]
Without a GPU it says so and exits 0; without a CUDA build of torch the torch column is "-".
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F


def mlp(lib: Any) -> Any:
    return lib.Sequential(lib.Linear(784, 512), lib.ReLU(), lib.Linear(512, 512), lib.ReLU(),
                          lib.Linear(512, 10))


def cnn(lib: Any) -> Any:
    return lib.Sequential(lib.Conv2d(1, 32, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Conv2d(32, 64, 3, padding=1), lib.ReLU(), lib.MaxPool2d(2),
                          lib.Flatten(), lib.Linear(64 * 7 * 7, 10))


class _LSTM:
    """An LSTM over (35, N, 64) and a Linear on the last step, for either library."""

    @staticmethod
    def build(lib: Any) -> Any:
        class M(lib.Module):
            def __init__(self) -> None:
                super().__init__()
                self.rnn, self.fc = lib.LSTM(64, 256), lib.Linear(256, 10)

            def forward(self, x: Any) -> Any:
                return self.fc(self.rnn(x)[0][-1])
        return M()


CASES: dict[str, tuple[Callable, Callable[[int], tuple]]] = {
    "mlp": (mlp, lambda n: (n, 784)),
    "cnn": (cnn, lambda n: (n, 1, 28, 28)),
    "lstm": (_LSTM.build, lambda n: (35, n, 64)),
}


def _rate(step: Callable[[], None], sync: Callable[[], None], batch: int, steps: int,
          repeats: int) -> float:
    for _ in range(3):  # compiles the kernels, fills the memory pools
        step()
    sync()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        rates.append(batch * steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def chainrule_rate(kind: str, n: int, steps: int, repeats: int) -> tuple[float, Any]:
    cr.manual_seed(0)
    build, shape = CASES[kind]
    model = build(nn).to("cuda")
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal(shape(n)).astype(np.float32), device="cuda")
    y = cr.tensor(rng.integers(0, 10, n), device="cuda")
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return _rate(step, cr.cuda.synchronize, n, steps, repeats), model


def torch_rate(kind: str, n: int, steps: int, repeats: int, like: Any) -> float | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    build, shape = CASES[kind]
    model = build(torch.nn).cuda()
    with torch.no_grad():
        for p, q in zip(model.parameters(), like.parameters(), strict=True):
            p.copy_(torch.from_numpy(q.detach().cpu().numpy()))
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal(shape(n)).astype(np.float32)).cuda()
    y = torch.from_numpy(rng.integers(0, 10, n)).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return _rate(step, torch.cuda.synchronize, n, steps, repeats)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batches", default="128,512")
    ap.add_argument("--only", default="mlp,cnn,lstm")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if not cr.cuda.is_available():
        print("gpu_bench: no GPU: " + "; ".join(cr.cuda.describe()))
        return 0
    print("; ".join(cr.cuda.describe()))
    print(f"{'case':<14}{'chainrule':>14}{'torch cuda':>14}{'ratio':>9}   samples/s")
    rows = []
    for kind in args.only.split(","):
        for n in (int(b) for b in args.batches.split(",")):
            try:
                ours, model = chainrule_rate(kind, n, args.steps, args.repeats)
            except Exception as e:  # record it and go on: GPU time is scarce
                print(f"{kind} batch {n}: chainrule failed: {type(e).__name__}: {e}")
                rows.append({"case": kind, "batch": n, "error": f"{type(e).__name__}: {e}"})
                continue
            theirs = torch_rate(kind, n, args.steps, args.repeats, model)
            ratio = f"{ours / theirs:8.2f}x" if theirs else "      n/a"
            print(f"{kind + ' ' + str(n):<14}{ours:14,.0f}"
                  f"{(f'{theirs:14,.0f}' if theirs else f'{chr(45):>14}')}{ratio}")
            rows.append({"case": kind, "batch": n, "chainrule": ours, "torch_cuda": theirs})
            sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"devices": cr.cuda.describe(), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
