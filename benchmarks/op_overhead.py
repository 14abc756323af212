"""Per-op overhead of forward + backward on small tensors: chainrule against PyTorch (CPU).

What is measured, per op and per library, in one process on the same data:

    op step:        every leaf's .grad = None;  op(leaves).sum().backward()
    baseline step:  x.grad = None;              x.sum().backward()       (x = the first leaf)

The leaves are 8x8 float32 tensors with requires_grad=True, so the arithmetic is negligible and
the time is per-op Python / dispatch / graph-bookkeeping cost. Binary ops (add mul div matmul
concatenate) take two leaves, both requiring grad. The baseline is the fixed cost every op step
also pays: one reduction, starting backward, handing one leaf its gradient.

Timing: the four steps (chainrule op, chainrule baseline, torch op, torch baseline) take turns in
blocks of BLOCK calls timed with time.perf_counter, garbage collection off as in timeit; R repeats
of N calls each (default 7 x 1000; --quick: 3 x 50). Short alternating blocks make the figures
robust on a shared, noisy machine: a slow spell spoils a few blocks of every step alike, and the
median over all blocks drops them. Columns, in microseconds per step:

    tot    median over blocks of the op step
    net    median over blocks of (op step - the baseline block timed beside it): the cost of the
           op itself, forward and backward; small for torch (a few us), so its ratio is noisier
    ratio  chainrule / torch of net and of tot; geometric means over the ops close the table,
           after a baseline row (median of all baseline blocks of the run)

torch runs with torch.set_num_threads(1) unless --threads says otherwise (8x8 tensors never gain
from more), and the header says which. Without torch (or with --no-torch) only chainrule's
figures are printed.

    python benchmarks/op_overhead.py            # full run, about half a minute
    python benchmarks/op_overhead.py --quick    # smoke run, a few seconds
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

try:
    import chainrule as cr
except ImportError:  # run from a checkout without installing: python benchmarks/op_overhead.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import chainrule as cr

SHAPE = (8, 8)
BLOCK = 25  # steps timed in one go before the next step takes its turn


@dataclass(frozen=True)
class OpSpec:
    """One op: its chainrule form, its torch form, and how many leaf inputs it takes."""

    name: str
    cr_fn: Callable[..., Any]
    torch_fn: Callable[..., Any]
    arity: int = 1


def _torch_ops(torch: ModuleType | None) -> dict[str, Callable[..., Any]]:
    """The torch side of each op (functions that need the torch module itself)."""
    if torch is None:
        return {}
    return {
        "cat": lambda x, w: torch.cat([x, w]),
        "softmax": lambda x: torch.softmax(x, dim=-1),
        "log_softmax": lambda x: torch.log_softmax(x, dim=-1),
    }


def op_specs(torch: ModuleType | None) -> list[OpSpec]:
    """The ops compared, in the order they are printed."""
    t = _torch_ops(torch)
    return [
        OpSpec("add", lambda x, w: x + w, lambda x, w: x + w, 2),
        OpSpec("mul", lambda x, w: x * w, lambda x, w: x * w, 2),
        OpSpec("div", lambda x, w: x / w, lambda x, w: x / w, 2),
        OpSpec("matmul", lambda x, w: x @ w, lambda x, w: x @ w, 2),
        OpSpec("exp", lambda x: x.exp(), lambda x: x.exp()),
        OpSpec("tanh", lambda x: x.tanh(), lambda x: x.tanh()),
        OpSpec("sigmoid", lambda x: x.sigmoid(), lambda x: x.sigmoid()),
        OpSpec("relu", lambda x: x.relu(), lambda x: x.relu()),
        OpSpec("sum", lambda x: x.sum(), lambda x: x.sum()),
        OpSpec("mean", lambda x: x.mean(), lambda x: x.mean()),
        OpSpec("amax(dim=1)", lambda x: x.amax(dim=1), lambda x: x.amax(dim=1)),
        OpSpec("reshape", lambda x: x.reshape(4, 16), lambda x: x.reshape(4, 16)),
        OpSpec("transpose", lambda x: x.transpose(0, 1), lambda x: x.transpose(0, 1)),
        OpSpec("getitem[2:6]", lambda x: x[2:6], lambda x: x[2:6]),
        OpSpec("cat", lambda x, w: cr.cat([x, w]), t.get("cat", _missing), 2),
        OpSpec("softmax", lambda x: x.softmax(dim=-1), t.get("softmax", _missing)),
        OpSpec("log_softmax", lambda x: x.log_softmax(dim=-1), t.get("log_softmax", _missing)),
    ]


def _missing(*args: Any) -> Any:
    raise RuntimeError("torch is not installed")


def _identity(x: Any) -> Any:
    return x


def make_step(fn: Callable[..., Any], leaves: list[Any]) -> Callable[[], None]:
    """One benchmark step: clear the leaves' grads, run fn, backward from the sum of its output."""
    if len(leaves) == 1:
        x = leaves[0]

        def step() -> None:
            x.grad = None
            fn(x).sum().backward()
    else:
        def step() -> None:
            for leaf in leaves:
                leaf.grad = None
            fn(*leaves).sum().backward()
    return step


def time_loop(step: Callable[[], None], n: int) -> float:
    """Seconds taken by n calls of step."""
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return time.perf_counter() - t0


def one_repeat(steps: dict[str, Callable[[], None]], iters: int) -> dict[str, list[float]]:
    """Call each step iters times, the steps taking turns in blocks of BLOCK calls; for each step,
    the microseconds per call of every block. Short turns let a slow spell of the shared machine
    (another process, a stolen time slice) spoil a few blocks of every step, not one whole step."""
    samples: dict[str, list[float]] = {name: [] for name in steps}
    done = 0
    while done < iters:
        n = min(BLOCK, iters - done)
        for name, step in steps.items():
            samples[name].append(time_loop(step, n) / n * 1e6)
        done += n
    return samples


def measure(steps: dict[str, Callable[[], None]], iters: int,
            repeats: int) -> dict[str, list[float]]:
    """Per-block samples (us per call) of each named step over all repeats, garbage collection
    off as in timeit."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        one_repeat(steps, max(iters // 10, 5))  # warm-up: caches, first-call allocations
        samples: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(repeats):
            for name, us in one_repeat(steps, iters).items():
                samples[name].extend(us)
    finally:
        if enabled:
            gc.enable()
    return samples


def make_leaves(torch: ModuleType | None, arity: int) -> dict[str, list[Any]]:
    """The same 8x8 float32 inputs for both libraries; the second one stays away from zero."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(SHAPE).astype(np.float32)]
    if arity == 2:
        arrays.append((rng.random(SHAPE) + 0.5).astype(np.float32))
    leaves = {"chainrule": [cr.tensor(a, requires_grad=True) for a in arrays]}
    if torch is not None:
        leaves["torch"] = [torch.tensor(a, requires_grad=True) for a in arrays]
    return leaves


@dataclass
class Result:
    """One op's figures for one library, in us per step (medians over all timed blocks)."""

    total: float
    net: float
    base: list[float]  # the baseline samples taken alongside, for the baseline row


def bench_op(spec: OpSpec, torch: ModuleType | None, iters: int,
             repeats: int) -> dict[str, Result]:
    """Time the op's step and the baseline step alternately, for each available library."""
    leaves = make_leaves(torch, spec.arity)
    fns = {"chainrule": spec.cr_fn, "torch": spec.torch_fn}
    steps = {}
    for lib, ls in leaves.items():
        steps[f"{lib} base"] = make_step(_identity, ls[:1])
        steps[lib] = make_step(fns[lib], ls)
    s = measure(steps, iters, repeats)
    out = {}
    for lib in leaves:
        op, base = s[lib], s[f"{lib} base"]
        nets = [o - b for o, b in zip(op, base, strict=True)]
        out[lib] = Result(statistics.median(op), statistics.median(nets), base)
    return out


def _ratio(a: float, b: float) -> float | None:
    return a / b if a > 0 and b > 0 else None


def _fmt(v: float | None) -> str:
    return f"{v:9.2f}" if v is not None else f"{'n/a':>9}"


def geomean(values: list[float | None]) -> float | None:
    vs = [v for v in values if v is not None]
    return math.exp(sum(math.log(v) for v in vs) / len(vs)) if vs else None


def header(torch: ModuleType | None, iters: int, repeats: int) -> str:
    """The run's conditions: versions, threads, shape, iterations."""
    versions = (f"python {platform.python_version()}  numpy {np.__version__}  chainrule "
                f"{cr.__version__}  torch {torch.__version__ if torch else 'missing'}")
    threads = (f"torch.set_num_threads({torch.get_num_threads()})" if torch
               else "torch missing (not installed or --no-torch): chainrule figures only")
    cores = f"{platform.machine()}, {os.cpu_count()} logical cores; {threads}"
    what = (f"inputs {SHAPE[0]}x{SHAPE[1]} float32; step = grad=None, op, .sum().backward(); "
            f"{repeats} repeats x {iters} steps in blocks of {BLOCK}; us/step, median of blocks")
    where = f"chainrule imported from {Path(cr.__file__).parent}"
    return f"{versions}\n{cores}\n{what}\n{where}"


def table_row(name: str, r: dict[str, Result]) -> tuple[str, list[float | None]]:
    """One printed row and its (net ratio, total ratio) for the geometric means."""
    c = r["chainrule"]
    row = f"{name:<26}{c.total:9.2f}{c.net:9.2f}"
    if "torch" not in r:
        return row, [None, None]
    t = r["torch"]
    ratios = [_ratio(c.net, t.net), _ratio(c.total, t.total)]
    return row + f"{t.total:9.2f}{t.net:9.2f}  {_fmt(ratios[0])}  {_fmt(ratios[1])}", ratios


def footer(results: list[dict[str, Result]], ratios: list[list[float | None]], width: int) -> str:
    """The baseline row (median of every baseline sample of the run) and the geometric means."""
    base = {lib: statistics.median([b for r in results for b in r[lib].base])
            for lib in results[0]}
    row = f"{'(baseline: sum+backward)':<26}{base['chainrule']:9.2f}{'':9}"
    if "torch" in base:
        b_ratio = _ratio(base["chainrule"], base["torch"])
        row += f"{base['torch']:9.2f}{'':9}  {'':9}  {_fmt(b_ratio)}"
        g_net, g_tot = geomean([r[0] for r in ratios]), geomean([r[1] for r in ratios])
        row += f"\n{'-' * width}\n{'geometric mean over ops (cr / pt)':<62}"
        row += f"{_fmt(g_net)}  {_fmt(g_tot)}"
    return row


def run(torch: ModuleType | None, iters: int, repeats: int) -> None:
    """Benchmark every op, printing each row as soon as it is measured."""
    print(header(torch, iters, repeats))
    cols = f"{'op':<26}{'cr tot':>9}{'cr net':>9}"
    if torch is not None:
        cols += f"{'pt tot':>9}{'pt net':>9}  {'net ratio':>9}  {'tot ratio':>9}"
    print(cols + "\n" + "-" * len(cols))
    results, ratios = [], []
    for spec in op_specs(torch):
        results.append(bench_op(spec, torch, iters, repeats))
        row, rs = table_row(spec.name, results[-1])
        ratios.append(rs)
        print(row, flush=True)
    print(footer(results, ratios, len(cols)))


def import_torch(threads: int) -> ModuleType | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: few iterations and repeats")
    p.add_argument("--iters", type=int, default=None, help="steps per repeat (default 1000)")
    p.add_argument("--repeats", type=int, default=None, help="repeats of --iters steps (default 7)")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    p.add_argument("--no-torch", action="store_true", help="time chainrule only")
    args = p.parse_args(argv)
    iters = args.iters or (50 if args.quick else 1000)
    repeats = args.repeats or (3 if args.quick else 7)
    torch = None if args.no_torch else import_torch(args.threads)
    run(torch, iters, repeats)


if __name__ == "__main__":
    main()
