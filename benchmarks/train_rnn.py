"""One training step of a recurrent classifier (an LSTM or GRU over the sequence, a Linear on the
last step's output; Adam, cross-entropy) in chainrule and in PyTorch, side by side in one process
on the same data and weights. Two shapes: (a) 35 steps, batch 32, 64 inputs -> 128 hidden;
(b) 100 steps, batch 64, 256 inputs -> 256 hidden. The two libraries' timing blocks alternate
(interleaved repeats, so a noisy neighbour hurts both alike); each figure is the median.
Prints samples per second and the ratio chainrule / PyTorch (higher is better for us).

Run: python benchmarks/train_rnn.py [--threads N] [--steps 3] [--repeats 9] [--quick]
     [--only lstm|gru] [--shape a|b] [--before] [--cpu-time] [--profile]
--before adds chainrule's per-step recurrence (the path before the fused op) to the same
interleaving; --cpu-time (with --threads 1) times the blocks by this thread's CPU time, which
a loaded machine disturbs less than the wall clock; --profile prints a cProfile of chainrule's
step (LSTM, or GRU with --only gru).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

from _common import chainrule_step, have_torch, pin_threads, torch_step

THREADS = pin_threads(None if __name__ == "__main__" else [])

import argparse  # noqa: E402

import numpy as np  # noqa: E402

try:
    import chainrule as cr  # noqa: E402
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import chainrule as cr  # noqa: E402
import chainrule.nn as nn  # noqa: E402

SHAPES = {"a": (35, 32, 64, 128), "b": (100, 64, 256, 256)}  # steps, batch, inputs, hidden
CLASSES = 10


class Classifier(nn.Module):
    """rnn over (L, N, H_in), then Linear(H, 10) on the last step's output."""

    def __init__(self, kind: str, n_in: int, hidden: int) -> None:
        super().__init__()
        self.rnn = getattr(nn, kind)(n_in, hidden)
        self.fc = nn.Linear(hidden, CLASSES)

    def forward(self, x: Any) -> Any:
        out, _ = self.rnn(x)
        return self.fc(out[-1])


def torch_classifier(kind: str, n_in: int, hidden: int) -> Any:
    import torch

    class TorchClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = getattr(torch.nn, kind)(n_in, hidden)
            self.fc = torch.nn.Linear(hidden, CLASSES)

        def forward(self, x: Any) -> Any:
            out, _ = self.rnn(x)
            return self.fc(out[-1])

    return TorchClassifier()


def interleaved(step_fns: list[Callable[[], None] | None], batch: int, steps: int,
                repeats: int, clock: Callable[[], float] = time.perf_counter
                ) -> tuple[list[float | None], list[float | None]]:
    """Samples/s of each step function, median over `repeats` timing blocks of `steps` steps,
    the functions' blocks alternating, after one warm-up block each; and each function's median
    ratio to the last one (block by block: the load a neighbour puts on the machine changes
    slowly, so adjacent blocks see about the same)."""
    live = [f for f in step_fns if f is not None]
    for f in live:
        for _ in range(max(2, steps // 2)):
            f()
    rates: list[list[float]] = [[] for _ in step_fns]
    for _ in range(repeats):
        for k, f in enumerate(step_fns):
            if f is None:
                continue
            t0 = clock()
            for _ in range(steps):
                f()
            rates[k].append(batch * steps / (clock() - t0))
    ref = rates[-1]
    ratios = [statistics.median(a / b for a, b in zip(r, ref)) if r and ref else None
              for r in rates]
    return [statistics.median(r) if r else None for r in rates], ratios


def per_step(step: Callable[[], None]) -> Callable[[], None]:
    """step run with the recurrence on the differentiable per-step path (the code before the
    fused op): the reference for the fused op's speed-up, measured in the same process."""
    import chainrule.nn.layers.recurrent as rec
    from chainrule.nn.layers.recurrent_fused import recurrence, steps

    def stepwise(mode: str, reverse: bool, gi: Any, W_hh: Any, state: Any, b_hh: Any) -> Any:
        lstm = mode == "LSTM"
        ins = (gi, W_hh) + (tuple(state) if lstm else (state,))
        outs = steps(mode, reverse, *ins, *(() if b_hh is None else (b_hh,)))
        return outs[0], (outs[1:] if lstm else outs[1])

    def run() -> None:
        rec.recurrence = stepwise
        try:
            step()
        finally:
            rec.recurrence = recurrence

    return run


def case(kind: str, shape: str, threads: int, steps: int, repeats: int, torch_ok: bool,
         before: bool, clock: Callable[[], float]) -> list[tuple[str, float, float | None]]:
    L, N, n_in, H = SHAPES[shape]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((L, N, n_in)).astype(np.float32)
    y = rng.integers(0, CLASSES, N)
    cr.manual_seed(0)
    model = Classifier(kind, n_in, H)
    fns: list[Callable[[], None] | None] = [chainrule_step(model, x, y)]
    if before:
        cr.manual_seed(0)
        fns.append(per_step(chainrule_step(Classifier(kind, n_in, H), x, y)))
    fns.append(torch_step(torch_classifier(kind, n_in, H), model, x, y, threads)
               if torch_ok else None)
    rates, ratios = interleaved(fns, N, steps, repeats, clock)
    name = f"{kind} {L}x{N} {n_in}->{H}"
    rows = [(name, rates[0], rates[-1], ratios[0])]
    if before:
        rows.append(("  per-step path", rates[1], rates[-1], ratios[1]))
    return rows


def table(title: str, rows: list) -> None:
    print(title)
    print(f"{'case':<24}{'chainrule':>11}{'pytorch':>11}{'ratio':>8}")
    for name, ours, theirs, ratio in rows:
        print(f"{name:<24}{ours:11,.0f}" + (f"{theirs:11,.0f}{ratio:7.2f}x" if theirs else
                                          f"{'-':>11}{'n/a':>8}"))


def profile(kind: str = "LSTM", shape: str = "a", steps: int = 20) -> None:
    """cProfile of chainrule's training step, top 25 by own time."""
    import cProfile
    import pstats

    L, N, n_in, H = SHAPES[shape]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((L, N, n_in)).astype(np.float32)
    y = rng.integers(0, CLASSES, N)
    cr.manual_seed(0)
    step = chainrule_step(Classifier(kind, n_in, H), x, y)
    step()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(steps):
        step()
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--quick", action="store_true", help="few steps: a smoke run")
    p.add_argument("--only", choices=("lstm", "gru"))
    p.add_argument("--shape", choices=tuple(SHAPES))
    p.add_argument("--profile", action="store_true")
    p.add_argument("--cpu-time", action="store_true",
                   help="time blocks by this thread's CPU time (steadier on a loaded machine; "
                   "with --threads 1 only)")
    p.add_argument("--before", action="store_true",
                   help="also time chainrule's per-step recurrence (the path before fusing)")
    args = p.parse_args(argv)
    if args.profile:
        return profile("GRU" if args.only == "gru" else "LSTM", args.shape or "a")
    steps, repeats = (1, 1) if args.quick else (args.steps, args.repeats)
    if args.cpu_time and args.threads != 1:
        raise SystemExit("--cpu-time counts this thread's CPU time only: use it with --threads 1")
    clock = time.thread_time if args.cpu_time else time.perf_counter
    torch_ok = have_torch()
    if torch_ok:
        import torch

        torch.set_num_threads(args.threads)
    kinds = ("LSTM", "GRU") if args.only is None else (args.only.upper(),)
    rows = [row for kind in kinds for shape in ((args.shape,) if args.shape else tuple(SHAPES))
            for row in case(kind, shape, args.threads, steps, repeats, torch_ok, args.before,
                            clock)]
    table(f"train step, samples/s of {'CPU' if args.cpu_time else 'wall'} time "
          f"({args.threads} BLAS threads each; medians of {repeats} "
          f"interleaved blocks of {steps} steps; ratio: median of the blocks' ratios)"
          f"{'' if torch_ok else '; torch not installed'}", rows)

if __name__ == "__main__":
    sys.exit(main())
