"""Helpers shared by the training benchmarks: thread pinning, timing, the side-by-side table.

The BLAS thread count must be fixed before NumPy is imported, so the scripts call
`pin_threads()` first; torch gets the same count. Machines are shared and noisy: every figure is
a median over repeats.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Callable


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
