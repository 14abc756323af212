"""One training step of the examples' MNIST CNN (two conv + max-pool blocks, dense layers; Adam,
cross-entropy) in chainrule and in PyTorch, side by side in one process on the same data and
weights, at batch 32, 64 and 128. Prints samples per second and the ratio chainrule / PyTorch.

The two libraries take turns, one block of --steps steps each, --repeats times, and each figure
is the median of its blocks: a slow spell of a shared machine then spoils both alike. With
--threads 1 --cpu-time the blocks are timed by this thread's CPU time instead of the wall
clock: steadier where other processes share the cores (both libraries then compute on this
thread alone).

--breakdown prints, instead, where one chainrule step spends its time: each op's forward and
backward (CPU time of this thread, nested ops counted in their caller too), and the rest of
the step (autograd bookkeeping, Python, the optimizer).

Run: python benchmarks/train_cnn.py [--threads N] [--steps 20] [--repeats 5] [--quick]
     python benchmarks/train_cnn.py --threads 1 --cpu-time
     python benchmarks/train_cnn.py --threads 1 --breakdown [--batch 64]
     python benchmarks/train_cnn.py --threads 1 --layers [--batch 64]   # each layer, both libs
     python benchmarks/train_cnn.py --threads 2 --workers 2   # conv / pool passes on 2 threads
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from _common import chainrule_step, have_torch, parse_args, pin_threads, print_table, torch_step

THREADS = pin_threads(None if __name__ == "__main__" else [])

import numpy as np  # noqa: E402

try:
    import chainrule as cr  # noqa: E402
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
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


def interleaved(steps: list[Callable[[], None]], batch: int, n: int, repeats: int,
                clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Samples per second of each step function: after a warm-up, blocks of n calls taking
    turns, the median block of each (timed by `clock`)."""
    for step in steps:
        for _ in range(max(2, n // 5)):
            step()
    rates: list[list[float]] = [[] for _ in steps]
    for _ in range(repeats):
        for step, r in zip(steps, rates):
            t0 = clock()
            for _ in range(n):
                step()
            r.append(batch * n / (clock() - t0))
    return [statistics.median(r) for r in rates]


def data(batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, batch)


def breakdown(batch: int, steps: int) -> None:
    """Where one chainrule training step spends its time, per op (thread CPU time)."""
    from chainrule.autograd import Function

    spent: Counter[str] = Counter()

    def timed(cls: type, name: str) -> None:
        inner = cls.__dict__[name]

        def run(self: Any, *args: Any) -> Any:
            t0 = time.thread_time()
            try:
                return inner(self, *args)
            finally:
                spent[f"{cls.__name__}.{name}"] += time.thread_time() - t0

        setattr(cls, name, run)

    def every(c: type) -> list[type]:
        return [s for sub in c.__subclasses__() for s in [sub] + every(sub)]

    x, y = data(batch)
    cr.manual_seed(0)
    step = chainrule_step(cnn(), x, y)
    patched = {c for c in every(Function)}
    originals = {(c, m): c.__dict__[m] for c in patched for m in ("forward", "backward")
                 if m in c.__dict__ and not isinstance(c.__dict__[m], staticmethod)}
    for c, m in originals:
        timed(c, m)
    try:
        for _ in range(3):
            step()
        spent.clear()
        t0 = time.thread_time()
        for _ in range(steps):
            step()
        total = (time.thread_time() - t0) / steps * 1e3
    finally:
        for (c, m), f in originals.items():
            setattr(c, m, f)
    print(f"one CNN training step, batch {batch}, {THREADS} BLAS thread(s): {total:.2f} ms of "
          f"this thread's CPU time (mean of {steps}); per op, ms per step:")
    for name, s in spent.most_common(14):
        print(f"  {name:<28}{s / steps * 1e3:8.2f}")


def layers(batch: int) -> None:
    """Each layer of the CNN alone, forward and forward + backward, in both libraries (this
    thread's CPU time, best of 9 blocks): which layers stand between chainrule and PyTorch."""
    import torch

    import chainrule.nn.functional as F

    def best(f: Callable[[], Any], n: int = 10) -> float:
        ts = []
        for _ in range(9):
            t0 = time.thread_time()
            for _ in range(n):
                f()
            ts.append((time.thread_time() - t0) / n * 1e3)
        return min(ts)

    torch.set_num_threads(1)
    tf, rng = torch.nn.functional, np.random.default_rng(0)
    cases = [
        ("conv 1->16, 28x28", lambda x, w, b: F.conv2d(x, w, b, padding=1),
         lambda x, w, b: tf.conv2d(x, w, b, padding=1), [(1, 28), (16, 1, 3, 3), (16,)], False),
        ("conv 16->32, 14x14", lambda x, w, b: F.conv2d(x, w, b, padding=1),
         lambda x, w, b: tf.conv2d(x, w, b, padding=1), [(16, 14), (32, 16, 3, 3), (32,)], True),
        ("max_pool 2, 16x28x28", lambda x: F.max_pool2d(x, 2), lambda x: tf.max_pool2d(x, 2),
         [(16, 28)], True),
        ("max_pool 2, 32x14x14", lambda x: F.max_pool2d(x, 2), lambda x: tf.max_pool2d(x, 2),
         [(32, 14)], True),
        ("relu, 16x28x28", F.relu, torch.relu, [(16, 28)], True),
    ]
    print(f"one layer, batch {batch}, 1 thread: ms of CPU time, chainrule vs PyTorch")
    print(f"{'layer':<24}{'forward':>18}{'forward+backward':>24}")
    for name, ours, theirs, shapes, x_grad in cases:
        arrays = [rng.standard_normal((batch, s[0], s[1], s[1]) if i == 0 else s)
                  .astype(np.float32) for i, s in enumerate(shapes)]
        grads = [x_grad] + [True] * (len(arrays) - 1)
        row = []
        for lib, fn in ((cr, ours), (torch, theirs)):
            xs = [lib.tensor(a, requires_grad=q) for a, q in zip(arrays, grads)]
            g = lib.tensor(rng.standard_normal(tuple(fn(*xs).shape)).astype(np.float32))

            def both(fn: Any = fn, xs: list = xs, g: Any = g) -> None:
                for v in xs:
                    v.grad = None
                fn(*xs).backward(g)

            row.append((best(lambda fn=fn, xs=xs: fn(*xs)), best(both)))
        (f0, b0), (f1, b1) = row
        print(f"{name:<24}{f0:8.2f} vs {f1:6.2f}{b0:12.2f} vs {b1:6.2f}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--workers" in argv:  # split conv / pool passes over this many threads (default 1)
        from chainrule.ops import parallel

        i = argv.index("--workers")
        parallel.set_workers(int(argv[i + 1]))
        del argv[i:i + 2]
    if "--breakdown" in argv or "--layers" in argv:
        batch = 64
        if "--batch" in argv:
            i = argv.index("--batch")
            batch = int(argv[i + 1])
            del argv[i:i + 2]
        if "--layers" in argv:
            return layers(batch)
        argv.remove("--breakdown")
        args, steps, _ = parse_args(__doc__, argv, THREADS, 20, 3)
        breakdown(batch, steps)
        return
    cpu = "--cpu-time" in argv
    if cpu:
        argv.remove("--cpu-time")
    args, steps, repeats = parse_args(__doc__, argv, THREADS, 20, 3)
    if cpu and args.threads != 1:
        raise SystemExit("--cpu-time counts this thread's CPU time only: use it with --threads 1")
    torch_ok = have_torch()
    rows = []
    for batch in (32, 64, 128):
        x, y = data(batch)
        cr.manual_seed(0)
        model = cnn()
        fns = [chainrule_step(model, x, y)]
        if torch_ok:
            fns.append(torch_step(torch_cnn(), model, x, y, args.threads))
        rates = interleaved(fns, batch, steps, repeats,
                            time.thread_time if cpu else time.perf_counter)
        rows.append((f"CNN batch {batch}", rates[0], rates[1] if torch_ok else None))
    print_table(f"train step, samples/s{' of CPU time' if cpu else ''} ({args.threads} BLAS "
                f"threads each; median of {repeats} x {steps} steps, taking turns)"
                f"{'' if torch_ok else '; no torch'}", rows)


if __name__ == "__main__":
    sys.exit(main())
