"""Helpers shared by the training benchmarks: thread pinning, timing, the side-by-side table.

The BLAS thread count must be fixed before NumPy is imported, so the scripts call
`pin_threads()` first; torch gets the same count. Machines are shared and noisy: every figure is
a median over repeats.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

# run from a checkout without installing: find chainrule next to benchmarks/ (find_spec does not
# import it, so NumPy's BLAS threads can still be pinned first)
if importlib.util.find_spec("chainrule") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pin_threads(argv: list[str] | None) -> int:
    """Read --threads N from argv (default: every core) and apply it to NumPy's BLAS."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    n = os.cpu_count() or 1
    if "--threads" in args:
        n = int(args[args.index("--threads") + 1])
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    return n


def samples_per_second(step: Callable[[], None], batch: int, steps: int,
                       repeats: int) -> float:
    """Median over repeats of batch * steps / seconds, after one warm-up block."""
    for _ in range(max(2, steps // 5)):
        step()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(batch * steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def print_table(title: str, rows: list[tuple[str, float, float | None]]) -> None:
    print(title)
    print(f"{'case':<22}{'chainrule':>14}{'pytorch':>14}{'ratio':>9}")
    for name, ours, theirs in rows:
        ratio = f"{ours / theirs:8.2f}x" if theirs else "      n/a"
        theirs_s = f"{theirs:14,.0f}" if theirs else f"{'-':>14}"
        print(f"{name:<22}{ours:14,.0f}{theirs_s}{ratio}")


def chainrule_step(model: Any, x: Any, y: Any) -> Callable[[], None]:
    """One Adam step on cross-entropy for a chainrule model, on fixed arrays x, y."""
    import chainrule as cr
    import chainrule.nn.functional as F

    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = cr.tensor(x), cr.tensor(y)

    def step() -> None:
        loss = F.cross_entropy(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def torch_step(model: Any, like: Any, x: Any, y: Any, threads: int) -> Callable[[], None]:
    """The same step in PyTorch, with the chainrule model `like`'s initial weights."""
    import torch

    torch.set_num_threads(threads)
    with torch.no_grad():
        for p, q in zip(model.parameters(), like.parameters(), strict=True):
            p.copy_(torch.from_numpy(q.detach().numpy().copy()))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def parse_args(doc: str, argv: list[str] | None, threads: int, steps: int,
               quick_steps: int) -> tuple[argparse.Namespace, int, int]:
    """The training benchmarks' options; returns (args, steps, repeats)."""
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--threads", type=int, default=threads)
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="few steps: a smoke run")
    args = p.parse_args(argv)
    return args, *((quick_steps, 1) if args.quick else (args.steps, args.repeats))
